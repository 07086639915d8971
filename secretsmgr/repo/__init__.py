"""The repository model: git, `.sops.yaml`, `.secretsmgr.yaml`, kustomize trees and Flux layers."""

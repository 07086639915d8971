"""Tests of the Kubernetes API seam against a real kube-apiserver."""

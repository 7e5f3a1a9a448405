"""Utilities for users and developers of sksiamese estimators."""

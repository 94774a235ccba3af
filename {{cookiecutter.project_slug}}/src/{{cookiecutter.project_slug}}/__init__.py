# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The {{ cookiecutter.project_slug }} service."""

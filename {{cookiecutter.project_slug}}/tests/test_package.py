# Template file: updates (bin/update) replace it; README.md says where your changes go.
import {{ cookiecutter.project_slug }}


def test_package_imports() -> None:
    assert {{ cookiecutter.project_slug }}.__doc__

import {{ cookiecutter.project_slug }}


def test_package_imports() -> None:
    assert {{ cookiecutter.project_slug }}.__doc__

"""The Windows and macOS recipes cannot run here; these checks keep them consistent on paper with
the spec file and with each other (names, versions, artifacts), so a rename breaks a test, not a
release."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
WORKFLOWS = ROOT / ".github" / "workflows"


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_windows_ships_a_console_cli_beside_the_windowed_exe() -> None:
    spec = text(PACKAGING / "audience-manager.spec")
    assert 'name="audience-manager-cli"' in spec and "console=True" in spec
    assert "COLLECT(*executables" in spec  # both exes share one _internal folder
    ps1 = text(PACKAGING / "windows" / "build-windows.ps1")
    assert 'audience-manager-cli.exe" --version' in ps1 and "--smoke" in ps1
    assert "$LASTEXITCODE -ne 0" in ps1  # native commands' exit codes are checked
    assert re.search(r"Inno Setup 6\\ISCC\.exe", ps1)  # by full path, not from PATH
    iss = text(PACKAGING / "windows" / "audience-manager.iss")
    assert "OutputDir=..\\..\\out" in iss and "out\\dist\\audience-manager" in iss


def test_macos_bundle_has_a_version_both_architectures_and_an_applications_link() -> None:
    spec = text(PACKAGING / "audience-manager.spec")
    assert "CFBundleShortVersionString" in spec and "target_arch=target_arch" in spec
    sh = text(PACKAGING / "macos" / "build-macos.sh")
    assert "ln -s /Applications" in sh
    assert "notarytool submit" in sh and "codesign" in sh and "MACOS_SIGN_IDENTITY:-" in sh
    workflow = text(WORKFLOWS / "packages.yml")
    assert "arch: arm64" in workflow and "arch: x86_64" in workflow


def test_every_build_job_fails_without_its_artifact_and_the_release_checks_the_tag() -> None:
    workflow = text(WORKFLOWS / "packages.yml")
    assert workflow.count("if-no-files-found: error") == 3  # linux, windows, macos (a matrix)
    assert 'GITHUB_REF_NAME}" != "v$version"' in workflow
    assert "sha256sum" in workflow and "SHA256SUMS" in workflow
    tests = text(WORKFLOWS / "tests.yml")
    assert "push:" in tests and "windows-latest" in tests and "macos-" in tests and "ubuntu-" in tests


def test_all_build_output_goes_to_out_not_setuptools_build() -> None:
    for path in (
        PACKAGING / "build-linux.sh",
        PACKAGING / "smoke-linux.sh",
        PACKAGING / "macos" / "build-macos.sh",
        PACKAGING / "windows" / "build-windows.ps1",
        WORKFLOWS / "packages.yml",
    ):
        body = text(path)
        assert "out/" in body or "out\\" in body or '"out"' in body, path
        assert not re.search(r"(?<![\w.-])build[/\\](dist|work|venv|icons|audience)", body), path

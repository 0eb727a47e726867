# Builds the Windows installer: out\audience-manager-VERSION-windows-setup.exe, from the PyInstaller
# folder out\dist\audience-manager (audience-manager.exe windowed, audience-manager-cli.exe console).
# Not run on Windows here; its steps mirror build-linux.sh and packages.yml runs it on windows-latest.
# Needs Python 3.12+ and Inno Setup 6. Run from anywhere: pwsh packaging\windows\build-windows.ps1
$ErrorActionPreference = "Stop"
$PSNativeCommandUseErrorActionPreference = $true  # PowerShell 7.3+: a failing program stops the script
Set-Location (Resolve-Path "$PSScriptRoot\..\..")

# Older PowerShell does not stop on a native command's exit code: check each one.
function Invoke-Checked {
    param([Parameter(Mandatory)][string]$Exe, [Parameter(ValueFromRemainingArguments)][string[]]$Arguments)
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

$python = if ($env:PYTHON) { $env:PYTHON } else { "python" }
$version = (& $python -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])").Trim()
if ($LASTEXITCODE -ne 0) { throw "cannot read the version from pyproject.toml" }
$changelog = (& $python packaging\changelog.py version).Trim()
if ($changelog -ne $version) { throw "pyproject says $version, CHANGELOG.md's top entry $changelog" }

$out = "out"
Remove-Item -Recurse -Force "$out\dist", "$out\work", "$out\icons" -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force $out | Out-Null
if (-not (Test-Path "$out\venv\Scripts\python.exe")) { Invoke-Checked $python -m venv "$out\venv" }
$vpy = "$out\venv\Scripts\python.exe"
Invoke-Checked $vpy -m pip install --upgrade pip
Invoke-Checked $vpy -m pip install . "pyinstaller>=6.10" pillow
Invoke-Checked $vpy packaging\render_icons.py "$out\icons"
Invoke-Checked $vpy -c "from PIL import Image; Image.open('out/icons/audience-manager-256.png').save('out/icons/audience-manager.ico', sizes=[(16,16),(24,24),(32,32),(48,48),(64,64),(128,128),(256,256)])"
Invoke-Checked $vpy packaging\third_party_notices.py "$out\THIRD-PARTY-NOTICES.txt"
$env:AM_ICON_DIR = "$out\icons"
$env:AM_NOTICES = "$out\THIRD-PARTY-NOTICES.txt"
$env:AM_VERSION = $version
Invoke-Checked "$out\venv\Scripts\pyinstaller.exe" --noconfirm --clean --distpath "$out\dist" --workpath "$out\work" packaging\audience-manager.spec

# The console exe prints and returns codes: check the version it reports and a real smoke run.
$bundle = "$out\dist\audience-manager"
foreach ($exe in "audience-manager.exe", "audience-manager-cli.exe") {
    if (-not (Test-Path "$bundle\$exe")) { throw "$bundle\$exe was not built" }
}
$reported = (& "$bundle\audience-manager-cli.exe" --version | Out-String).Trim()
if ($LASTEXITCODE -ne 0 -or $reported -notmatch [regex]::Escape($version)) { throw "--version said '$reported', expected $version" }
$env:AUDIENCE_MANAGER_HOME = Join-Path $env:RUNNER_TEMP "am-smoke"
if (-not $env:RUNNER_TEMP) { $env:AUDIENCE_MANAGER_HOME = Join-Path $env:TEMP "am-smoke" }
$env:QT_QPA_PLATFORM = "offscreen"
Invoke-Checked "$bundle\audience-manager-cli.exe" --smoke
Remove-Item Env:QT_QPA_PLATFORM

# Inno Setup by its full path (it is not on PATH after a Chocolatey or winget install).
$iscc = @(
    "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe",
    "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
    "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe"
) | Where-Object { Test-Path $_ } | Select-Object -First 1
if (-not $iscc) { throw "Inno Setup 6 (ISCC.exe) was not found" }
Invoke-Checked $iscc "/DVersion=$version" packaging\windows\audience-manager.iss
$setup = "$out\audience-manager-$version-windows-setup.exe"
if (-not (Test-Path $setup)) { throw "$setup was not written" }
Get-Item $setup | Format-List Name, Length

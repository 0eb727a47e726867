# Builds the Windows installer. UNTESTED here (no Windows machine); mirrors build-linux.sh.
# Needs Python 3.12+ and Inno Setup 6 (iscc on PATH). Run from the repository root.
$ErrorActionPreference = "Stop"
$version = (Select-String -Path pyproject.toml -Pattern '^version = "(.*)"').Matches[0].Groups[1].Value
python -m venv build\venv
build\venv\Scripts\python -m pip install --upgrade pip
build\venv\Scripts\python -m pip install . "pyinstaller>=6.10" pillow
build\venv\Scripts\python packaging\render_icons.py build\icons
build\venv\Scripts\python -c "from PIL import Image; Image.open('build/icons/audience-manager-256.png').save('build/icons/audience-manager.ico', sizes=[(16,16),(24,24),(32,32),(48,48),(64,64),(128,128),(256,256)])"
$env:AM_ICON_DIR = "build\icons"
build\venv\Scripts\pyinstaller --noconfirm --clean --distpath build\dist --workpath build\work packaging\audience-manager.spec
build\dist\audience-manager\audience-manager.exe --version
iscc /DVersion=$version packaging\windows\audience-manager.iss

; Inno Setup script: installs the PyInstaller folder (dist\audience-manager) per user or per machine.
; UNTESTED here (no Windows machine); built by .github/workflows/packages.yml on windows-latest.
; Build: iscc /DVersion=0.1.0 packaging\windows\audience-manager.iss
#ifndef Version
  #define Version "0.0.0"
#endif

[Setup]
AppId={{8C0A1E0B-5B9E-4E1B-9B9A-3A6C2E5D7F11}
AppName=Audience Manager
AppVersion={#Version}
AppPublisher=Audience Manager developers
DefaultDirName={autopf}\Audience Manager
DefaultGroupName=Audience Manager
PrivilegesRequiredOverridesAllowed=dialog
OutputDir=..\..\build
OutputBaseFilename=audience-manager-{#Version}-windows-setup
SetupIconFile=..\..\build\icons\audience-manager.ico
UninstallDisplayIcon={app}\audience-manager.exe
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "..\..\build\dist\audience-manager\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Audience Manager"; Filename: "{app}\audience-manager.exe"
Name: "{autodesktop}\Audience Manager"; Filename: "{app}\audience-manager.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\audience-manager.exe"; Description: "Start Audience Manager"; Flags: nowait postinstall skipifsilent

; Inno Setup script: installs the PyInstaller folder (out\dist\audience-manager) per user or per
; machine. Not run on Windows here; packages.yml builds it on windows-latest through
; build-windows.ps1 (iscc /DVersion=X.Y.Z packaging\windows\audience-manager.iss).
#ifndef Version
  #error Pass the version: iscc /DVersion=X.Y.Z
#endif

[Setup]
AppId={{8C0A1E0B-5B9E-4E1B-9B9A-3A6C2E5D7F11}
AppName=Audience Manager
AppVersion={#Version}
VersionInfoVersion={#Version}
AppPublisher=Audience Manager developers
AppPublisherURL=https://github.com/audience-manager/audience-manager
DefaultDirName={autopf}\Audience Manager
DefaultGroupName=Audience Manager
PrivilegesRequiredOverridesAllowed=dialog
OutputDir=..\..\out
OutputBaseFilename=audience-manager-{#Version}-windows-setup
SetupIconFile=..\..\out\icons\audience-manager.ico
UninstallDisplayIcon={app}\audience-manager.exe
LicenseFile=..\..\LICENSE
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesEnvironment=yes

[Files]
; Both exes, the shared _internal folder, LICENSE and THIRD-PARTY-NOTICES.txt (inside _internal).
Source: "..\..\out\dist\audience-manager\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "..\..\LICENSE"; DestDir: "{app}"; DestName: "LICENSE.txt"; Flags: ignoreversion
Source: "..\..\out\THIRD-PARTY-NOTICES.txt"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{group}\Audience Manager"; Filename: "{app}\audience-manager.exe"; AppUserModelID: "io.github.audiencemanager.AudienceManager"
Name: "{autodesktop}\Audience Manager"; Filename: "{app}\audience-manager.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked
Name: "addtopath"; Description: "Add audience-manager-cli to PATH (for the command line)"; Flags: unchecked

[Registry]
; The CLI on PATH for this user when asked (audience-manager-cli.exe apply ...).
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\audience-manager.exe"; Description: "Start Audience Manager"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Current: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Current) then
    Result := True
  else
    Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Current) + ';') = 0;
end;

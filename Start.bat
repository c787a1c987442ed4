@echo off
setlocal
rem MLSharp 3D Maker: double-click to set up and start. Runs Start.ps1 with a one-off execution
rem policy (nothing is changed on the machine); arguments are passed through, e.g. Start.bat --port 8001
powershell.exe -NoProfile -ExecutionPolicy Bypass -File "%~dp0Start.ps1" %*
set "MLSHARP_RC=%ERRORLEVEL%"
if not "%MLSHARP_RC%"=="0" (
    echo.
    echo MLSharp stopped with exit code %MLSHARP_RC%. The messages above say why; logs are in "%~dp0logs".
    pause
)
exit /b %MLSHARP_RC%

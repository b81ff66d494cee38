"""Local development host: runs the function without Azure Functions Core Tools, next to an emulator of
Microsoft Graph and the App Service managed-identity endpoint. Never deployed (see .funcignore)."""

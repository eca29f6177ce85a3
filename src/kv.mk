# (module rules are added here by the module's owner)

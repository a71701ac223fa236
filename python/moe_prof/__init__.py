"""moe-prof Python side: the route capture core and the engines that drive it."""

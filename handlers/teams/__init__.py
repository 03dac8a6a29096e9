"""Microsoft Teams adapter: the botbuilder activity handler, Adaptive Cards and the outbound chat port."""

package config

import "time"

// Keys configures the tenants' signing keys (PRODUCT.md B6).
type Keys struct {
	// Rotation is how long each signing key signs. Its successor is
	// published an hour before it signs, so every replica and every
	// relying party's cached JWKS has it by then.
	Rotation time.Duration `yaml:"rotation"`
}

// Bounds of keys.rotation. The shortest must exceed twice the hour a key
// is published before it signs (the OP refuses less); the longest is a
// year: a key that never changes is a key whose leak never ends.
const (
	DefaultKeyRotation = 30 * 24 * time.Hour
	MinKeyRotation     = 24 * time.Hour
	MaxKeyRotation     = 365 * 24 * time.Hour
)

func (v *validator) keys(c *Config) {
	v.durRange("keys.rotation", c.Keys.Rotation, MinKeyRotation, MaxKeyRotation, "720h")
}

// Package addheader holds the response-header plugin's configuration: which
// header it adds to every response it sees. Plain Go with no proxy-wasm host
// calls, so that `go test` covers it without an emulator.
package addheader

import (
	"slices"

	"asmwasm.local/plugin/internal/pluginconfig"
)

// Configuration keys, as they appear in the WasmPlugin's pluginConfig.
const (
	KeyName  = "name"
	KeyValue = "value"
)

// Defaults: a header that says which plugin of the chain stamped the response.
const (
	DefaultName  = "x-asm-plugin-chain"
	DefaultValue = "response-header"
)

var allKeys = []string{KeyName, KeyValue}

// framingHeaders are names the plugin refuses to add: they describe the
// connection or the message's framing, which Envoy manages, so a second
// value would break the response or be dropped on the way.
var framingHeaders = []string{
	"connection", "content-length", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
}

// Config is a validated configuration. Build it with Default or ParseConfig.
type Config struct {
	// Name is the header to add, lower-cased: Envoy stores header names
	// lower-cased, and HTTP/2 and HTTP/3 require it.
	Name string
	// Value is its value.
	Value string
}

// Default returns the configuration used when pluginConfig is absent or empty.
func Default() Config {
	return Config{Name: DefaultName, Value: DefaultValue}
}

// ConfigError explains why a configuration was refused.
type ConfigError = pluginconfig.Error

const (
	wantObject = "a JSON object with the keys name, value (both optional)"
	wantName   = "an HTTP header name (letters, digits and !#$%&'*+-.^_`|~), not one of " +
		"connection, content-length, keep-alive, proxy-connection, te, trailer, transfer-encoding, upgrade"
	wantValue = "a non-empty string without control characters or leading/trailing whitespace"
)

// ParseConfig validates the JSON plugin configuration. Empty input (or only
// whitespace, or {}) gives Default; an absent key keeps its default. Any
// problem is a *ConfigError: the caller must then refuse to start.
func ParseConfig(data []byte) (Config, error) {
	raw, err := pluginconfig.ParseObject(data, allKeys, wantObject)
	if err != nil {
		return Config{}, err
	}
	cfg := Default()
	if v := raw[KeyName]; v != nil {
		if cfg.Name, err = pluginconfig.String(KeyName, v, wantName); err != nil {
			return Config{}, err
		}
		// Checked before lower-casing: LowerToken is for a token's ASCII
		// (strings.ToLower, which it stands in for, would map some non-ASCII
		// letters, such as the Kelvin sign, to ASCII ones).
		if !pluginconfig.IsToken(cfg.Name) {
			return Config{}, &ConfigError{Key: KeyName, Got: "got " + pluginconfig.Describe(v), Want: wantName}
		}
		cfg.Name = pluginconfig.LowerToken(cfg.Name)
		if slices.Contains(framingHeaders, cfg.Name) {
			return Config{}, &ConfigError{Key: KeyName, Got: "got " + pluginconfig.Describe(v), Want: wantName}
		}
	}
	if v := raw[KeyValue]; v != nil {
		if cfg.Value, err = pluginconfig.String(KeyValue, v, wantValue); err != nil {
			return Config{}, err
		}
		if !pluginconfig.IsFieldValue(cfg.Value) {
			return Config{}, &ConfigError{Key: KeyValue, Got: "got " + pluginconfig.Describe(v), Want: wantValue}
		}
	}
	return cfg, nil
}

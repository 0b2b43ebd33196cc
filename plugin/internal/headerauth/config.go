// Package headerauth holds the plugin's configuration and its decision, as
// plain Go with no proxy-wasm host calls, so that `go test` covers it
// without an emulator.
package headerauth

import (
	"strconv"

	"asmwasm.local/plugin/internal/pluginconfig"
)

// Configuration keys, as they appear in the WasmPlugin's pluginConfig.
const (
	KeyHeader = "header"
	KeyValue  = "value"
	// KeyValueFromEnv names an environment variable of the plugin's VM
	// (Istio: WasmPlugin vmConfig.env) whose content is the accepted value,
	// in place of KeyValue: a shared secret then stays out of the
	// WasmPlugin object (see README.md, "A secret value from the VM's
	// environment").
	KeyValueFromEnv    = "valueFromEnv"
	KeyDenyStatus      = "denyStatus"
	KeyDenyBody        = "denyBody"
	KeyDenyContentType = "denyContentType"
	// KeyBuild is set by the stack, not by users: the image digest, which the
	// deny reply carries in BuildHeader so that a check can tell which build
	// answers (an older module, or Istio's deny-all stand-in, would not).
	KeyBuild = "build"
)

// BuildHeader is the deny reply's header that carries the configured build.
const BuildHeader = "x-wasm-plugin-build"

// Defaults reproduce the plugin from the ASM guide this one replaces.
const (
	DefaultHeader          = "allow"
	DefaultValue           = "true"
	DefaultDenyStatus      = 403
	DefaultDenyBody        = "Forbidden by ASM Wasm Plugin"
	DefaultDenyContentType = "text/plain"
)

// Accepted range of denyStatus.
const (
	MinDenyStatus = 200
	MaxDenyStatus = 599
)

var allKeys = []string{KeyHeader, KeyValue, KeyValueFromEnv, KeyDenyStatus, KeyDenyBody, KeyDenyContentType, KeyBuild}

// Config is a validated configuration. Build it with Default or ParseConfig.
type Config struct {
	// Header is the request header to check, lower-cased (header names are
	// case-insensitive and Envoy stores them lower-cased).
	Header string
	// Value is what the header must hold, byte for byte.
	Value string
	// ValueEnv, when set, is the environment variable Value was read from:
	// Value is then a secret, and the log names ValueEnv instead.
	ValueEnv string
	// DenyStatus is the status of the local reply sent to a denied request.
	DenyStatus uint32
	// DenyBody is the body of that reply.
	DenyBody string
	// DenyContentType is its Content-Type.
	DenyContentType string
	// Build, when set, is sent back in BuildHeader with every deny reply.
	Build string
}

// Default returns the configuration used when pluginConfig is absent or empty.
func Default() Config {
	return Config{
		Header:          DefaultHeader,
		Value:           DefaultValue,
		DenyStatus:      DefaultDenyStatus,
		DenyBody:        DefaultDenyBody,
		DenyContentType: DefaultDenyContentType,
	}
}

// ConfigError explains why a configuration was refused: which key (empty
// when the document as a whole is at fault), what was found, and what is
// accepted.
type ConfigError = pluginconfig.Error

// LookupEnv looks an environment variable up, as os.LookupEnv does. A nil
// LookupEnv is an empty environment.
type LookupEnv func(name string) (value string, ok bool)

// ParseConfig validates the JSON plugin configuration. Empty input (or only
// whitespace) gives Default. env is the plugin's environment, read only for
// valueFromEnv. Any problem is a *ConfigError, which never shows a value
// read from env: the caller must then refuse to start rather than guess.
func ParseConfig(data []byte, env LookupEnv) (Config, error) {
	raw, err := pluginconfig.ParseObject(data, allKeys, wantObject)
	if err != nil {
		return Config{}, err
	}

	cfg := Default()
	if v := raw[KeyHeader]; v != nil {
		if cfg.Header, err = pluginconfig.String(KeyHeader, v, wantHeader); err != nil {
			return Config{}, err
		}
		if !pluginconfig.IsToken(cfg.Header) {
			return Config{}, &ConfigError{Key: KeyHeader, Got: "got " + pluginconfig.Describe(v), Want: wantHeader}
		}
		cfg.Header = pluginconfig.LowerToken(cfg.Header)
	}
	if raw[KeyValue] != nil && raw[KeyValueFromEnv] != nil {
		return Config{}, errBothValues
	}
	if v := raw[KeyValue]; v != nil {
		if cfg.Value, err = pluginconfig.String(KeyValue, v, wantValue); err != nil {
			return Config{}, err
		}
		if !pluginconfig.IsFieldValue(cfg.Value) {
			return Config{}, &ConfigError{Key: KeyValue, Got: "got " + pluginconfig.Describe(v), Want: wantValue}
		}
	}
	if v := raw[KeyValueFromEnv]; v != nil {
		if cfg.ValueEnv, err = pluginconfig.String(KeyValueFromEnv, v, wantEnvName); err != nil {
			return Config{}, err
		}
		if !isEnvName(cfg.ValueEnv) {
			return Config{}, &ConfigError{Key: KeyValueFromEnv, Got: "got " + pluginconfig.Describe(v), Want: wantEnvName}
		}
	}
	if v := raw[KeyDenyStatus]; v != nil {
		if cfg.DenyStatus, err = decodeStatus(v); err != nil {
			return Config{}, err
		}
	}
	if v := raw[KeyDenyBody]; v != nil {
		if cfg.DenyBody, err = pluginconfig.String(KeyDenyBody, v, wantBody); err != nil {
			return Config{}, err
		}
	}
	if v := raw[KeyDenyContentType]; v != nil {
		if cfg.DenyContentType, err = pluginconfig.String(KeyDenyContentType, v, wantContentType); err != nil {
			return Config{}, err
		}
		if !pluginconfig.IsFieldValue(cfg.DenyContentType) {
			return Config{}, &ConfigError{Key: KeyDenyContentType, Got: "got " + pluginconfig.Describe(v), Want: wantContentType}
		}
	}
	if v := raw[KeyBuild]; v != nil {
		if cfg.Build, err = pluginconfig.String(KeyBuild, v, wantBuild); err != nil {
			return Config{}, err
		}
		if !pluginconfig.IsFieldValue(cfg.Build) {
			return Config{}, &ConfigError{Key: KeyBuild, Got: "got " + pluginconfig.Describe(v), Want: wantBuild}
		}
	}
	// The environment last: a mistake in the configuration itself is
	// reported the same on every gateway, whatever each one's environment.
	if cfg.ValueEnv != "" {
		if cfg.Value, err = lookupValue(cfg.ValueEnv, env); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

const (
	wantObject = "a JSON object with the keys header, value or valueFromEnv, denyStatus, denyBody, denyContentType, build (all optional)"
	wantBuild  = "a non-empty string without control characters or leading/trailing whitespace (the image digest)"
	wantHeader = "a non-empty HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"
	wantValue  = "a non-empty string without control characters or leading/trailing whitespace"
	wantBody   = "a string"
	// What the variable named by valueFromEnv must hold. Never what it
	// does hold: that is the secret.
	wantEnvName     = "the name of an environment variable of the plugin's VM (printable ASCII without spaces or '=')"
	wantEnvSet      = "the variable set in the plugin's VM environment (WasmPlugin vmConfig.env; Envoy vm_config.environment_variables)"
	wantEnvValue    = "a non-empty value without control characters or leading/trailing whitespace (not shown: it is a secret)"
	wantContentType = "a non-empty string without control characters or leading/trailing whitespace"
	wantStatus      = "an integer from 200 to 599"
)

// errBothValues refuses a configuration that says twice where the value is.
var errBothValues = &ConfigError{
	Key: KeyValueFromEnv, Got: `given together with "value"`, Want: `either "value" or "valueFromEnv", not both`,
}

// isEnvName reports whether s can name an environment variable: what a
// WASI environ entry before its '=' can hold, less the spaces and control
// characters that would make the name hard to read in a log line.
func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '=' || c >= 0x7f {
			return false
		}
	}
	return true
}

// lookupValue reads the accepted value from the environment variable name.
// Its errors name the variable and never show its content.
func lookupValue(name string, env LookupEnv) (string, error) {
	var value string
	found := false
	if env != nil {
		value, found = env(name)
	}
	switch {
	case !found:
		return "", &ConfigError{Key: KeyValueFromEnv, Got: "environment variable " + strconv.Quote(name) + " is not set", Want: wantEnvSet}
	case value == "":
		return "", &ConfigError{Key: KeyValueFromEnv, Got: "environment variable " + strconv.Quote(name) + " is empty", Want: wantEnvValue}
	case !pluginconfig.IsFieldValue(value):
		return "", &ConfigError{
			Key:  KeyValueFromEnv,
			Got:  "environment variable " + strconv.Quote(name) + " holds control characters or leading/trailing whitespace",
			Want: wantEnvValue,
		}
	}
	return value, nil
}

// decodeStatus takes only an integer literal: 403.0 and 4e2 are refused.
func decodeStatus(raw []byte) (uint32, error) {
	refused := &ConfigError{Key: KeyDenyStatus, Got: "got " + pluginconfig.Describe(raw), Want: wantStatus}
	var n uint32
	for _, c := range raw {
		// Stopping once n is past the range keeps a long literal from overflowing.
		if c < '0' || c > '9' || n > MaxDenyStatus {
			return 0, refused
		}
		n = n*10 + uint32(c-'0')
	}
	if n < MinDenyStatus || n > MaxDenyStatus {
		return 0, refused
	}
	return n, nil
}

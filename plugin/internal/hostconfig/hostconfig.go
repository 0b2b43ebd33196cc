// Package hostconfig reads a plugin's configuration from the host: the SDK
// glue every plugin of this module needs at start, kept in one place.
package hostconfig

import (
	"errors"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Read returns the configuration the host holds for the plugin (configSize
// is what OnPluginStart got), or nil when there is none: Istio hands an
// absent pluginConfig over as no configuration at all, and some hosts
// answer "not found" for an empty one. Any other failure is returned.
func Read(configSize int) ([]byte, error) {
	if configSize <= 0 {
		return nil, nil
	}
	data, err := proxywasm.GetPluginConfiguration()
	if errors.Is(err, types.ErrorStatusNotFound) {
		return nil, nil
	}
	return data, err
}

package headermap

import (
	"bytes"
	"testing"
)

// The layout of proxy-wasm's header map (proxy-wasm spec, "Header map
// serialization"), written out by hand.
func TestSerialize(t *testing.T) {
	got := Serialize([][2]string{{"Content-Type", "text/plain"}, {"x", ""}})
	want := []byte{
		2, 0, 0, 0,
		12, 0, 0, 0, 10, 0, 0, 0,
		1, 0, 0, 0, 0, 0, 0, 0,
	}
	want = append(want, "Content-Type\x00text/plain\x00x\x00\x00"...)
	if !bytes.Equal(got, want) || cap(got) != len(want) {
		t.Errorf("Serialize = %q (cap %d), want %q", got, cap(got), want)
	}
	if got := Serialize(nil); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Errorf("Serialize(nil) = %q", got)
	}
}

package headerauth

// Headers looks up a request header by name. A missing header, or one the
// host could not read, is ok == false.
type Headers interface {
	Get(name string) (value string, ok bool)
}

// Verdict is the outcome for one request.
type Verdict struct {
	Allow bool
	// Got is the value the header held ("" when absent), for the log line.
	Got string
}

// Decide allows a request only when the configured header is present and
// holds exactly the configured value; anything else, including a header the
// host failed to read, is denied.
func (c *Config) Decide(h Headers) Verdict {
	got, ok := h.Get(c.Header)
	if !ok {
		return Verdict{}
	}
	return Verdict{Allow: got == c.Value, Got: got}
}

// DenyLog is the debug line logged for a denied request. With the default
// configuration it is the original plugin's line, word for word. When the
// accepted value came from the environment it is a secret, so the line names
// the variable instead: "only the value of $NAME can passthrough".
func (c *Config) DenyLog(got string) string {
	return string(c.AppendDenyLog(nil, got))
}

// AppendDenyLog appends DenyLog(got) to dst. With a dst of enough capacity,
// kept from one request to the next, it does not allocate (DenyLog allocates
// the string each time).
func (c *Config) AppendDenyLog(dst []byte, got string) []byte {
	dst = append(dst, "request header: '"...)
	dst = append(dst, c.Header...)
	dst = append(dst, "' is "...)
	dst = append(dst, got...)
	dst = append(dst, ", only "...)
	if c.ValueEnv != "" {
		dst = append(dst, "the value of $"...)
		dst = append(dst, c.ValueEnv...)
	} else {
		dst = append(dst, c.Value...)
	}
	return append(dst, " can passthrough"...)
}

// DenyHeaders are the headers of the local reply sent to a denied request.
func (c *Config) DenyHeaders() [][2]string {
	if c.Build != "" {
		return [][2]string{{"Content-Type", c.DenyContentType}, {BuildHeader, c.Build}}
	}
	return [][2]string{{"Content-Type", c.DenyContentType}}
}

//go:build tools

// Pins the NATS server that scripts/install-nats.sh builds for the tests.
package tools

import _ "github.com/nats-io/nats-server/v2"

// Command gcp is the go-control-plane side of the xDS comparison (bench/xds/compare.ts): the
// reference Go xDS server (github.com/envoyproxy/go-control-plane, its snapshot cache and its
// delta ECDS handler) serving exactly the resources picoseg's server builds. compare.ts writes
// those bytes to a JSON file: for each round, one marshaled TypedExtensionConfig per workload.
// Proxies are grouped by their workload (the node's LABELS.app, which is what picoseg compiles
// from), one snapshot per group, as a go-control-plane user would do it.
//
// Driven over stdin by compare.ts, one command per line:
//
//	round R    after -debounce, set every group's snapshot to round R's resources
//	sample     print {"acks":A,"pushes":P} (delta responses sent, ACKs received)
//	gc         run a full GC and return freed memory to the OS, then print {"gc":true}
//
// It prints {"port":P} once listening on 127.0.0.1, and exits when stdin closes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	extensionservice "github.com/envoyproxy/go-control-plane/envoy/service/extension/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	server "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
)

// resourceFile is what compare.ts writes: Rounds[r][w] is workload w's resource in round r.
type resourceFile struct {
	Name      string     `json:"name"`
	Workloads []string   `json:"workloads"` // the LABELS.app of each workload
	Rounds    [][][]byte `json:"rounds"`    // marshaled envoy.config.core.v3.TypedExtensionConfig
}

// byWorkload groups proxies by the workload label picoseg compiles from.
type byWorkload struct{}

func (byWorkload) ID(node *core.Node) string {
	if node == nil {
		return ""
	}
	return node.GetMetadata().GetFields()["LABELS"].GetStructValue().GetFields()["app"].GetStringValue()
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gcp: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	file := flag.String("resources", "", "JSON file of marshaled resources (written by compare.ts)")
	debounce := flag.Duration("debounce", 150*time.Millisecond, "delay between a round command and the new snapshots (picoseg's debounce)")
	flag.Parse()
	raw, err := os.ReadFile(*file)
	if err != nil {
		fail("%v", err)
	}
	var rf resourceFile
	if err := json.Unmarshal(raw, &rf); err != nil {
		fail("%s: %v", *file, err)
	}
	// Decode once; the cache marshals each resource again when it sends it. Check that this
	// gives back the very bytes picoseg built, so both servers send identical resources.
	rounds := make([][]types.Resource, len(rf.Rounds))
	for r, ws := range rf.Rounds {
		for w, b := range ws {
			tec := &core.TypedExtensionConfig{}
			if err := proto.Unmarshal(b, tec); err != nil {
				fail("round %d workload %d: %v", r, w, err)
			}
			again, err := proto.MarshalOptions{Deterministic: true}.Marshal(tec)
			if err != nil || string(again) != string(b) {
				fail("round %d workload %d: re-marshaled bytes differ from picoseg's", r, w)
			}
			rounds[r] = append(rounds[r], tec)
		}
	}

	ctx := context.Background()
	snapshots := cache.NewSnapshotCache(false, byWorkload{}, nil)
	setRound := func(r int) {
		for w, app := range rf.Workloads {
			snap, err := cache.NewSnapshot("r"+strconv.Itoa(r), map[resource.Type][]types.Resource{
				resource.ExtensionConfigType: {rounds[r][w]},
			})
			if err != nil {
				fail("snapshot: %v", err)
			}
			if err := snapshots.SetSnapshot(ctx, app, snap); err != nil {
				fail("set snapshot: %v", err)
			}
		}
	}
	setRound(0)

	var acks, pushes atomic.Int64
	callbacks := server.CallbackFuncs{
		StreamDeltaRequestFunc: func(_ int64, req *discovery.DeltaDiscoveryRequest) error {
			if req.GetResponseNonce() != "" && req.GetErrorDetail() == nil {
				acks.Add(1)
			}
			return nil
		},
		StreamDeltaResponseFunc: func(int64, *discovery.DeltaDiscoveryRequest, *discovery.DeltaDiscoveryResponse) {
			pushes.Add(1)
		},
	}
	xds := server.NewServer(ctx, snapshots, callbacks)
	// As go-control-plane's example server: many concurrent streams, keepalives.
	g := grpc.NewServer(
		grpc.MaxConcurrentStreams(1000000),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
	)
	extensionservice.RegisterExtensionConfigDiscoveryServiceServer(g, xds)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	go func() { _ = g.Serve(ln) }()
	fmt.Printf("{\"port\":%d}\n", ln.Addr().(*net.TCPAddr).Port)

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd := strings.Fields(in.Text())
		switch {
		case len(cmd) == 2 && cmd[0] == "round":
			r, err := strconv.Atoi(cmd[1])
			if err != nil || r < 0 || r >= len(rounds) {
				fail("no round %q", cmd[1])
			}
			time.AfterFunc(*debounce, func() { setRound(r) })
		case len(cmd) == 1 && cmd[0] == "sample":
			fmt.Printf("{\"acks\":%d,\"pushes\":%d}\n", acks.Load(), pushes.Load())
		case len(cmd) == 1 && cmd[0] == "gc":
			runtime.GC()
			debug.FreeOSMemory()
			fmt.Println("{\"gc\":true}")
		default:
			fail("unknown command %q", in.Text())
		}
	}
	g.Stop()
}

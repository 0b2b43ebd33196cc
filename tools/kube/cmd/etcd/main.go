// Command etcd is the etcd server at the version that k8s.io/kubernetes
// requires, so both sandbox binaries come from one module graph.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

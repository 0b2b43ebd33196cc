// Command pulumi-language-python is a minimal Pulumi language host for Python
// programs and Python policy packs.
//
// Why our own: Pulumi's own host lives in a nested Go module
// (sdk/python/cmd/pulumi-language-python/v3) that the Go module proxy reachable
// here does not serve, and the CLI cannot run a `runtime: python` project
// without a host. This one implements the subset of the LanguageRuntime
// protocol that `pulumi preview/up/destroy` and `--policy-pack` use: it runs
// the program with the SDK's own `pulumi-language-python-exec` launcher (copied
// next to this binary from the pinned sdk/v3 module) inside the project's
// virtualenv. It never installs dependencies: `make venv` does that.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// exitCodeUserActionable is what the exec launcher exits with after it has
// already shown the user an error; the engine should then not print another.
const exitCodeUserActionable = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	execScript string
}

func main() {
	// The engine starts us as `pulumi-language-python [-flag=value...] ENGINE_ADDR`.
	// Flags carry runtime options that we read from ProgramInfo instead, so they
	// are ignored here rather than rejected.
	var positional []string
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			positional = append(positional, a)
		}
	}
	if len(positional) == 0 {
		fmt.Fprintln(os.Stderr, "usage: pulumi-language-python [flags] ENGINE_ADDRESS")
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	h := &host{execScript: filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")}
	if _, err := os.Stat(h.execScript); err != nil {
		fail(fmt.Errorf("the launcher %s is missing; rebuild the tools with scripts/bootstrap-tools.sh: %w", h.execScript, err))
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

// python returns the interpreter of the project's virtualenv (the
// `virtualenv` runtime option, relative to the project root), or python3 on
// PATH when the project names none.
func python(info *pulumirpc.ProgramInfo) (string, []string, error) {
	venv := ""
	if info != nil && info.Options != nil {
		if v, ok := info.Options.AsMap()["virtualenv"].(string); ok {
			venv = v
		}
	}
	if venv == "" {
		p, err := exec.LookPath("python3")
		return p, os.Environ(), err
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(info.RootDirectory, venv)
	}
	py := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(py); err != nil {
		return "", nil, fmt.Errorf("virtualenv %s (runtime option 'virtualenv' in Pulumi.yaml) has no bin/python; "+
			"create it with `make venv`", venv)
	}
	env := append(os.Environ(), "VIRTUAL_ENV="+venv,
		"PATH="+filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	return py, env, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// Plugins are found on PATH (ambient plugins); declaring none keeps the engine
// from trying to download anything.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	py, env, err := python(req.Info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	program := "."
	if req.Info != nil && req.Info.ProgramDirectory != "" {
		program = req.Info.ProgramDirectory
	}
	args := []string{"-u", h.execScript,
		"--monitor", req.MonitorAddress,
		"--engine", engineAddress(),
		"--project", req.Project,
		"--stack", req.Stack,
		"--pwd", req.Pwd,
		"--dry_run", strconv.FormatBool(req.DryRun),
		"--parallel", strconv.Itoa(int(req.Parallel)),
		"--organization", req.Organization,
	}
	if req.Info != nil {
		args = append(args, "--root_directory", req.Info.RootDirectory)
	}
	args = append(args, program)
	args = append(args, req.Args...)

	// Marshal empty collections as {} and [], never null: the SDK iterates over them.
	cfg := req.Config
	if cfg == nil {
		cfg = map[string]string{}
	}
	keys := req.ConfigSecretKeys
	if keys == nil {
		keys = []string{}
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Dir = req.Pwd
	cmd.Env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeUserActionable {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d",
				exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a Python policy pack (or other Python plugin) as
// `python PROGRAM_DIR ARGS...`, as Pulumi's own host does.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	py, env, err := python(req.Info)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd := exec.CommandContext(server.Context(), py, append([]string{"-u", req.Info.ProgramDirectory}, req.Args...)...)
	cmd.Dir = req.Pwd
	cmd.Env = append(env, req.Env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return server.Send(&pulumirpc.RunPluginResponse{
				Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())},
			})
		}
		return err
	}
	return closer.Close()
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	if _, _, err := python(req.Info); err != nil {
		return err
	}
	return server.Send(&pulumirpc.InstallDependenciesResponse{
		Stdout: []byte("dependencies are installed by `make venv`; nothing to do\n"),
	})
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	py, _, err := python(req.Info)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, py, "-c", "import platform; print(platform.python_version())").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: py, Version: strings.TrimSpace(string(out))}, nil
}

func (h *host) GetProgramDependencies(context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

// engineAddress is the engine's gRPC address, the host's only positional argument.
func engineAddress() string {
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

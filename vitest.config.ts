import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/integration/**", "test/reliability/**", "test/istio/**"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // kube-apiserver and etcd for the k8s-* tests (scripts/install-kube.sh; cached).
          globalSetup: ["testkit/kube/global-setup.ts"],
          // Each file starts its own Envoy and servers; two cores, so one file at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // Faults and abuse through the real Envoy, filter and server (test/reliability/README.md).
          name: "reliability",
          include: ["test/reliability/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // Real istiod, pilot-agent and istioctl (scripts/install-istio.sh). `npm run test:istio`
          // runs this project inside a network namespace of its own (scripts/netns.sh).
          name: "istio",
          include: ["test/istio/**/*.test.ts"],
          globalSetup: ["testkit/kube/global-setup.ts", "testkit/istio/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});

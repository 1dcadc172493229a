// An Envoy sidecar fed by an xDS server on 127.0.0.1, in front of an echo upstream of its own: what
// the xds-* tests start for each case.
import { sidecarBootstrap, type NodeIdentity, type XdsApiType, type XdsTls } from "../../xds-server/src/bootstrap/index.js";
import { Envoy } from "./envoy.js";
import { Upstream } from "./upstream.js";
import { defined } from "../../xds-server/src/util/index.js";

export interface XdsSidecarOptions {
  xdsPort: number;
  /** The inbound listener's port on 127.0.0.1. */
  listenPort: number;
  node: NodeIdentity;
  /** State of the world (GRPC, the default) or delta. */
  api?: XdsApiType;
  /** The filter over ADS rather than the standalone ECDS service. */
  ads?: boolean;
  /** TLS (mTLS with a client certificate) to the xDS server. */
  xdsTls?: XdsTls;
  initialFetchTimeoutSeconds?: number;
  /** Bind Envoy's admin API to this port and announce it to the server (node metadata PICOSEG_ADMIN). */
  adminPort?: number;
}

export class XdsSidecar {
  private constructor(
    readonly envoy: Envoy,
    readonly echo: Upstream,
  ) {}

  /** Starts the echo upstream, then Envoy (resolves once it is LIVE with its listener up). */
  static async start(o: XdsSidecarOptions): Promise<XdsSidecar> {
    const echo = await Upstream.start();
    try {
      const envoy = await Envoy.start(
        sidecarBootstrap({
          admin: { host: "127.0.0.1", port: o.adminPort ?? 0 },
          xds: { host: "127.0.0.1", port: o.xdsPort },
          api: o.api,
          ads: o.ads,
          ...(o.xdsTls ? { xdsTls: o.xdsTls } : {}),
          ...defined({ initialFetchTimeoutSeconds: o.initialFetchTimeoutSeconds }),
          listener: { listen: { host: "127.0.0.1", port: o.listenPort }, upstream: { host: "127.0.0.1", port: echo.port } },
          node: o.adminPort !== undefined ? { ...o.node, adminAddress: `127.0.0.1:${o.adminPort}` } : o.node,
        }),
      );
      return new XdsSidecar(envoy, echo);
    } catch (err) {
      await echo.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.envoy.stop();
    await this.echo.stop();
  }
}

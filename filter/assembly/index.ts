export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime";
registerRootContext((id: u32): RootContext => new RootContext(id), "picoseg");

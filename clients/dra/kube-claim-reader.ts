/**
 * Reads ResourceClaims from the API server with @kubernetes/client-node (resource.k8s.io/v1,
 * Kubernetes 1.34+: DRA GA). In the cluster the pod's service account (RBAC: resourceclaims
 * get, deploy/kubernetes/rbac.yaml); elsewhere a kubeconfig file (the tests' local API server).
 */
import { KubeConfig, ResourceV1Api, type ResourceV1ResourceClaim } from "@kubernetes/client-node";
import type { ClaimReader } from "./dra-plugin.ts";

export function kubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath === undefined) kc.loadFromCluster();
  else kc.loadFromFile(kubeconfigPath);
  return kc;
}

export function kubeClaimReader(kc: KubeConfig): ClaimReader {
  const api = kc.makeApiClient(ResourceV1Api);
  return { read: (namespace: string, name: string): Promise<ResourceV1ResourceClaim> => api.readNamespacedResourceClaim({ name, namespace }) };
}

namespace ControlPlane.Api.Engines;

public enum ClusterFailoverMode { Default, Force, Takeover }

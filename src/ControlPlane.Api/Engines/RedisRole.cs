namespace ControlPlane.Api.Engines;

public enum RedisRole { Master, Replica }

namespace ControlPlane.Api.Runtime;

/// <summary>
/// A binary file written into a new container before it starts (mode 0644, owned by the node user 65534). Its
/// content is opened only then, and streamed: a multi-gigabyte snapshot is never held in memory.
/// The runtime disposes the stream. The parent folder should exist in the image (the engine would
/// create a missing one as root, 0755).
/// </summary>
public sealed record SeedFile(string ContainerPath, Func<CancellationToken, Task<Stream>> Open);

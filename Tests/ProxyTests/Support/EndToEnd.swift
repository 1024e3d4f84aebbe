import Testing

/// The parent of every end-to-end suite. They start real servers, move real
/// bytes, and some measure the process's memory or count the store's bytes,
/// so they run one test at a time (`.serialized` applies to every nested
/// suite); the unit suites still run in parallel beside them.
@Suite(.serialized) enum EndToEnd {}

import Testing

/// Suites that force the kernels' instruction set, which is process-wide state: serialized
/// together (the trait applies to nested suites) so one never switches paths under another's
/// assertions about the active path.
@Suite(.serialized) enum InstructionSetForcing {}

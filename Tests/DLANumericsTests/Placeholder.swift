import Testing
@testable import DLANumerics

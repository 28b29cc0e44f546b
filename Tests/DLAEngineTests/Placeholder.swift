import Testing
@testable import DLAEngine

import Testing
@testable import DLAStore

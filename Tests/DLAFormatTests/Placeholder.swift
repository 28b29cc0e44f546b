import Testing
@testable import DLAFormat

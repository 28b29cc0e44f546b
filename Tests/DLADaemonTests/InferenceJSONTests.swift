import Foundation
@testable import DLADaemon
import Testing

/// The answer is written before its history row commits; the id goes in front afterwards.
@Suite struct InferenceJSONTests {
    @Test func theIdLeadsAndTheRestIsUnchanged() throws {
        var json = InferenceJSON()
        json.open()
        json.key("model"); json.string("digits \"v\"")
        json.key("outputs"); json.rows([1.5, -2, .infinity, 0], rows: 2)
        json.close()
        let bytes = json.bytes(leadingID: 9_007_199_254_740_993)
        #expect(String(decoding: bytes, as: UTF8.self)
            == #"{"id":9007199254740993,"model":"digits \"v\"","outputs":[[1.5,-2.0],[null,0.0]]}"#)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(Set(object.keys) == ["id", "model", "outputs"])
    }

    @Test func anEmptyObjectGetsOnlyTheId() {
        var json = InferenceJSON()
        json.open()
        json.close()
        #expect(String(decoding: json.bytes(leadingID: -3), as: UTF8.self) == #"{"id":-3}"#)
    }
}

@testable import DLADaemon
import Testing

@Suite struct APIRequestTests {
    @Test(arguments: [
        ("application/x-npy", "application/x-npy"),
        ("Application/JSON", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        (" application/json ;q=1", "application/json"),
        ("", ""),
        (";", ""),
        (";charset=utf-8", ""),
    ])
    func contentTypeIsTheBareLowercasedMediaType(header: String, expected: String) {
        let request = APIRequest(method: "POST", uri: "/v1/health", headers: [("content-type", header)])
        #expect(request.contentType == expected)
    }

    @Test func contentTypeIsNilWithoutTheHeader() {
        #expect(APIRequest(method: "GET", uri: "/v1/health").contentType == nil)
    }

    @Test func percentDecodingKeepsPlainTextAndDecodesEscapes() {
        #expect(APIRequest.percentDecode("lenet-300-100") == "lenet-300-100")
        #expect(APIRequest.percentDecode("a%20b+c") == "a b+c")
        #expect(APIRequest.percentDecode("%E2%9C%93") == "✓")
        #expect(APIRequest.percentDecode("%zz") == nil)
        #expect(APIRequest.percentDecode("%FF") == nil)
        #expect(APIRequest.percentDecode("%4") == nil)
    }

    @Test func queryPairsAreSplitAndDecoded() {
        let request = APIRequest(method: "GET", uri: "/v1/inferences?model=a%2Db&limit=5&flag")
        #expect(request.path == "/v1/inferences")
        #expect(request.queryValue("model") == "a-b" && request.queryValue("limit") == "5" && request.queryValue("flag") == "")
    }
}

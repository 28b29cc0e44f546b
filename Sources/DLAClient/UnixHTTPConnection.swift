#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP/1.1 response: status, headers (names lowercased) and the whole body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.0 == lowered }?.1
    }
}

/// Why talking to the daemon failed below HTTP (no socket, refused, cut off).
public struct ConnectionError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A blocking HTTP/1.1 connection over a UNIX stream socket, kept alive across requests.
///
/// dlactl needs one request at a time and its bench a few threads of them; plain POSIX sockets
/// keep the client free of an event loop and small enough to build into every tool.
public final class UnixHTTPConnection {
    public let socketPath: String
    private var descriptor: Int32 = -1
    private var buffer: [UInt8] = []
    private var bufferStart = 0

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    deinit { close() }

    public func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
        buffer.removeAll(keepingCapacity: true)
        bufferStart = 0
    }

    private func connect() throws(ConnectionError) {
        guard descriptor < 0 else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ConnectionError("cannot create a socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else {
            _ = Glibc.close(fd)
            throw ConnectionError("socket path \(socketPath) is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = byte }
            raw[path.count] = 0
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            _ = Glibc.close(fd)
            let hint: String
            switch code {
            case ENOENT: hint = " (is dlad running? set --socket or DLAD_SOCKET)"
            case EACCES: hint = " (permission denied: the socket's group decides who may connect)"
            case ECONNREFUSED: hint = " (nothing is listening: is dlad running?)"
            default: hint = ""
            }
            throw ConnectionError("cannot connect to \(socketPath): \(String(cString: strerror(code)))\(hint)")
        }
        descriptor = fd
    }

    /// Sends one request and reads its response. `body` is sent with a Content-Length;
    /// `bodyProgress` is told how many body bytes went out so far.
    public func request(method: String, path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                        bodyProgress: ((Int) -> Void)? = nil) throws(ConnectionError) -> HTTPResponse {
        // A kept-alive connection the server closed in between is retried once on a new one,
        // but only when nothing of the response had arrived (the request was not processed).
        let reused = descriptor >= 0
        do {
            return try attempt(method: method, path: path, headers: headers, body: body, bodyProgress: bodyProgress)
        } catch is RetryableClose where reused {
            close()
            do {
                return try attempt(method: method, path: path, headers: headers, body: body, bodyProgress: bodyProgress)
            } catch let error as ConnectionError {
                throw error
            } catch {
                throw ConnectionError("the daemon closed the connection before answering")
            }
        } catch let error as ConnectionError {
            throw error
        } catch {
            throw ConnectionError("the daemon closed the connection before answering")
        }
    }

    private struct RetryableClose: Error {}

    private func attempt(method: String, path: String, headers: [(String, String)], body: [UInt8],
                         bodyProgress: ((Int) -> Void)?) throws -> HTTPResponse {
        try connect()
        var head = "\(method) \(path) HTTP/1.1\r\nHost: dlad\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        do {
            try send(ArraySlice(head.utf8))
        } catch {
            throw RetryableClose()
        }
        var sent = 0
        let chunk = 1 << 20
        while sent < body.count {
            let end = min(body.count, sent + chunk)
            do {
                try send(body[sent..<end])
            } catch {
                // The server may answer early (413, 403) and close: read what it said.
                if let response = try? readResponse(method: method) { close(); return response }
                throw error
            }
            sent = end
            bodyProgress?(sent)
        }
        let response: HTTPResponse
        do {
            response = try readResponse(method: method)
        } catch is RetryableClose where body.isEmpty {
            throw RetryableClose()
        } catch is RetryableClose {
            throw ConnectionError("the daemon closed the connection before answering")
        }
        if response.header("connection")?.lowercased() == "close" { close() }
        return response
    }

    private func send(_ bytes: ArraySlice<UInt8>) throws(ConnectionError) {
        var failure: ConnectionError?
        bytes.withUnsafeBytes { raw in
            do throws(ConnectionError) { try send(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    private func send(_ raw: UnsafeRawBufferPointer) throws(ConnectionError) {
        var offset = 0
        while offset < raw.count {
            let written = Glibc.send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                throw ConnectionError("sending to \(socketPath) failed: \(reason)")
            }
            offset += written
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill() throws(ConnectionError) -> Bool {
        if bufferStart > 0 && bufferStart == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            bufferStart = 0
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return false }
                throw ConnectionError("reading from \(socketPath) failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { return false }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
    }

    private func readResponse(method: String) throws -> HTTPResponse {
        var status = 100
        var headers: [(String, String)] = []
        // Skip interim 1xx answers (100 Continue).
        while status < 200 {
            var headEnd: Int?
            while headEnd == nil {
                headEnd = findHeadEnd()
                if headEnd == nil {
                    let hadBytes = buffer.count > bufferStart
                    guard try fill() else {
                        if hadBytes { throw ConnectionError("the daemon closed the connection in the middle of a response") }
                        throw RetryableClose()
                    }
                }
            }
            let text = String(decoding: buffer[bufferStart..<headEnd!], as: UTF8.self)
            bufferStart = headEnd! + 4
            var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
            let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
            guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let code = Int(statusLine[1]) else {
                throw ConnectionError("not an HTTP response from \(socketPath)")
            }
            status = code
            headers = lines.compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters())
            }
        }
        var body: [UInt8] = []
        if method != "HEAD", status != 204, status != 304 {
            if let length = headers.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }) {
                while buffer.count - bufferStart < length {
                    guard try fill() else { throw ConnectionError("the daemon closed the connection in the middle of a response body") }
                }
                body = Array(buffer[bufferStart..<(bufferStart + length)])
                bufferStart += length
            } else if headers.contains(where: { $0.0 == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
                body = try readChunked()
            } else {
                while try fill() {}
                body = Array(buffer[bufferStart...])
                bufferStart = buffer.count
                close()
            }
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    private func readChunked() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let line = try readLine()
            // An empty line (or only extensions) is malformed, not an index past an empty split.
            guard let size = Int(line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingCharacters(), radix: 16),
                  size >= 0 else {
                throw ConnectionError("malformed chunked response")
            }
            if size == 0 {
                while try !readLine().isEmpty {}
                return body
            }
            while buffer.count - bufferStart < size + 2 {
                guard try fill() else { throw ConnectionError("the daemon closed the connection in the middle of a response body") }
            }
            body.append(contentsOf: buffer[bufferStart..<(bufferStart + size)])
            bufferStart += size + 2
        }
    }

    private func readLine() throws -> String {
        while true {
            if let end = (bufferStart..<max(bufferStart, buffer.count - 1)).first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                let line = String(decoding: buffer[bufferStart..<end], as: UTF8.self)
                bufferStart = end + 2
                return line
            }
            guard try fill() else { throw ConnectionError("the daemon closed the connection in the middle of a response") }
        }
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count - bufferStart >= 4 else { return nil }
        var index = bufferStart
        while index + 3 < buffer.count {
            if buffer[index] == 13, buffer[index + 1] == 10, buffer[index + 2] == 13, buffer[index + 3] == 10 { return index }
            index += 1
        }
        return nil
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}

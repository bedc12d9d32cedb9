// The one Swift file that imports the zlib shim.
import CInflate

enum Gzip {
    /// Whether the bytes start with gzip's magic number 1f 8b.
    static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Inflates a whole gzip stream (concatenated members included), stopping once the output
    /// passes `limit` bytes (a small file can inflate to any size).
    /// - Returns: the data, or why not: zlib's message when the stream is damaged or cut short.
    static func decompress(_ input: [UInt8], limit: Int = .max) -> Result<[UInt8], GzipFailure> {
        var stream = z_stream()
        // 15 window bits + 16: expect a gzip header.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return .failure(.damaged("zlib could not start"))
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(min(input.count, limit / 4) * 4)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var status: Int32 = Z_OK
        var remaining = input[...]
        while true {
            let consumed: Int = remaining.withUnsafeBufferPointer { inBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = UInt32(inBuf.count)
                repeat {
                    chunk.withUnsafeMutableBufferPointer { outBuf in
                        stream.next_out = outBuf.baseAddress
                        stream.avail_out = UInt32(outBuf.count)
                        status = inflate(&stream, Z_NO_FLUSH)
                        output.append(contentsOf: outBuf.prefix(outBuf.count - Int(stream.avail_out)))
                    }
                } while status == Z_OK && stream.avail_out == 0 && output.count <= limit
                return inBuf.count - Int(stream.avail_in)
            }
            remaining = remaining.dropFirst(consumed)
            if output.count > limit { return .failure(.tooLarge(limit: limit)) }
            if status == Z_STREAM_END {
                // Another gzip member may follow (as `cat a.gz b.gz` makes).
                guard Gzip.isCompressed(Array(remaining.prefix(2))) else { break }
                inflateReset(&stream)
                continue
            }
            if status != Z_OK || remaining.isEmpty {
                let message = stream.msg.map { String(cString: $0) } ?? (status == Z_OK || status == Z_BUF_ERROR ? "the data ends early" : "code \(status)")
                return .failure(.damaged(message))
            }
        }
        return .success(output)
    }
}

extension Gzip {
    /// Compresses bytes into one gzip member (level 6, as `gzip` does).
    static func compress(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 16: write a gzip header; memory level 8 is zlib's default.
        let started = deflateInit2_(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                    ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(started == Z_OK, "zlib could not start deflate")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        var input = input
        let written: Int = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "deflate into a buffer of deflateBound's size must finish")
                return outBuf.count - Int(stream.avail_out)
            }
        }
        return Array(output.prefix(written))
    }
}

enum GzipFailure: Error {
    /// zlib's message for a damaged or cut-short stream.
    case damaged(String)
    /// The data inflates to more than this many bytes.
    case tooLarge(limit: Int)
}

/// The UEA/UCR time-series archive's `.ts` format, as sktime and aeon read it.
///
/// A header of `@tag value` lines (tags in any case; `#` starts a comment line), then `@data` and
/// one case per line: each dimension's values comma-separated, dimensions separated by `:`, and the
/// case's class (`@classLabel true c1 c2 …`) or numeric target (`@targetLabel true`) last. `?`
/// marks a missing value (read as NaN). Cases may differ in length; the dimensions of one case may
/// not. Files with `@timeStamps true` hold `(time, value)` pairs, which RNNKit does not read.
public enum TSFile {
    /// Parses `.ts` bytes; `path` names the file in errors.
    /// - Throws: `DataError.malformed` naming the line and what was wrong.
    public static func parse(_ bytes: [UInt8], path: String) throws(DataError) -> SequenceDataset {
        guard !bytes.isEmpty else {
            throw .malformed(path: path, problem: "empty file", expected: "a .ts header and @data", found: "0 bytes",
                             hint: "Point --data at a UEA/UCR .ts file.")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .malformed(path: path, problem: "not UTF-8 text", expected: "a .ts text file", found: "binary data",
                             hint: "Point --data at a UEA/UCR .ts file.")
        }
        var classNames: [String]? = nil, hasTarget = false, dimensions: Int? = nil, seriesLength: Int? = nil, equalLength: Bool? = nil
        var inData = false
        var values: [Float] = [], offsets = [0], classes: [Int] = [], targets: [Float] = []
        var features: Int? = nil
        var lineNumber = 0
        func fail(_ problem: String, expected: String, found: String, hint: String = "See the .ts format in README.") -> DataError {
            .malformed(path: path, problem: "line \(lineNumber): \(problem)", expected: expected, found: found, hint: hint)
        }
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if !inData {
                guard line.hasPrefix("@") else {
                    throw fail("text before @data", expected: "a header line starting with @", found: "'\(line.prefix(40))'")
                }
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                let tag = words[0].dropFirst().lowercased(), arguments = words.dropFirst().map(String.init)
                func flag() throws(DataError) -> Bool {
                    switch arguments.first?.lowercased() {
                    case "true": return true
                    case "false": return false
                    default: throw fail("@\(words[0].dropFirst()) needs true or false", expected: "true or false",
                                        found: "'\(arguments.first ?? "")'")
                    }
                }
                func count() throws(DataError) -> Int {
                    guard let n = arguments.first.flatMap({ Int($0) }), n > 0 else {
                        throw fail("@\(words[0].dropFirst()) needs a positive count", expected: "a whole number ≥ 1",
                                   found: "'\(arguments.first ?? "")'")
                    }
                    return n
                }
                switch tag {
                case "data": inData = true
                case "timestamps":
                    if try flag() {
                        throw fail("time-stamped data", expected: "@timeStamps false", found: "@timeStamps true",
                                   hint: "RNNKit reads equally spaced series: drop the time stamps, keeping the values in order.")
                    }
                case "classlabel":
                    if try flag() {
                        guard arguments.count > 1 else {
                            throw fail("@classLabel true lists no classes", expected: "@classLabel true followed by the class names",
                                       found: "'\(line)'")
                        }
                        classNames = Array(arguments.dropFirst())
                    }
                case "targetlabel": hasTarget = try flag()
                case "dimensions": dimensions = try count()
                case "serieslength": seriesLength = try count()
                case "equallength": equalLength = try flag()
                case "univariate": if try flag() { dimensions = dimensions ?? 1 }
                default: break  // @problemName, @missing and tags of later versions say nothing the data does not
                }
                if classNames != nil && hasTarget {
                    throw fail("both @classLabel true and @targetLabel true", expected: "one kind of label", found: "both",
                               hint: "A .ts file is either a classification or a regression problem.")
                }
                continue
            }
            var fields = line.split(separator: ":", omittingEmptySubsequences: false)
            let labelled = classNames != nil || hasTarget
            if labelled {
                let label = fields.removeLast().trimmingWhitespace()
                guard !fields.isEmpty else {
                    throw fail("a case with no values", expected: "values:…:label", found: "'\(line.prefix(40))'")
                }
                if let classNames {
                    guard let c = classNames.firstIndex(of: String(label)) else {
                        throw fail("unknown class '\(label)'", expected: "one of \(classNames.prefix(20).joined(separator: " "))",
                                   found: "'\(label)'", hint: "List every class on the @classLabel line.")
                    }
                    classes.append(c)
                } else {
                    guard let y = Float(label), y.isFinite else {
                        throw fail("target is not a number", expected: "a finite number after the last ':'", found: "'\(label.prefix(20))'")
                    }
                    targets.append(y)
                }
            }
            let F = features ?? dimensions ?? fields.count
            guard fields.count == F else {
                throw fail("\(fields.count) dimension(s)", expected: "\(F), as " + (features == nil ? "@dimensions says" : "in the cases before"),
                           found: "\(fields.count)" + (labelled ? "" : " (a label field, but the header declares no labels?)"))
            }
            features = F
            var series: [[Float]] = []
            series.reserveCapacity(F)
            for (d, field) in fields.enumerated() {
                var column: [Float] = []
                for item in field.split(separator: ",", omittingEmptySubsequences: false) {
                    let s = item.trimmingWhitespace()
                    if s == "?" || s.lowercased() == "nan" {
                        column.append(.nan)
                    } else if let v = Float(s), v.isFinite {
                        column.append(v)
                    } else {
                        throw fail("dimension \(d + 1) holds '\(s.prefix(20))'", expected: "comma-separated numbers, ? for missing",
                                   found: "'\(s.prefix(20))'")
                    }
                }
                series.append(column)
            }
            let length = series[0].count
            guard series.allSatisfy({ $0.count == length }) else {
                throw fail("dimensions of different lengths", expected: "every dimension of a case as long as the first (\(length))",
                           found: "lengths \(series.map(\.count).map(String.init).joined(separator: ", "))")
            }
            if equalLength == true, let seriesLength, length != seriesLength {
                throw fail("a series of \(length) values", expected: "\(seriesLength), as @seriesLength says", found: "\(length)")
            }
            values.reserveCapacity(values.count + length * F)
            for t in 0..<length { for d in 0..<F { values.append(series[d][t]) } }
            offsets.append(offsets.last! + length)
        }
        guard inData else {
            throw .malformed(path: path, problem: "no @data line", expected: "a header ending in @data, then one case per line",
                             found: "\(lineNumber) lines of header", hint: "Is this a UEA/UCR .ts file?")
        }
        guard let features, offsets.count > 1 else {
            throw .malformed(path: path, problem: "no cases after @data", expected: "at least one case", found: "none",
                             hint: "Add the data lines.")
        }
        let labels: SequenceLabels = classNames.map { .classes(classes, names: $0) }
            ?? (hasTarget ? .targets(targets, width: 1) : .none)
        return SequenceDataset(features: features, values: values, offsets: offsets, labels: labels)
    }

    /// Reads a `.ts` file, checking first that it fits in memory.
    public static func read(path: String) throws(DataError) -> SequenceDataset {
        // The text, the parsed columns and the values: a few times the file.
        try parse(readFile(path, expansion: 4, hint: "Split the file, or train on a part of it."), path: path)
    }
}

extension Substring {
    /// Without leading and trailing spaces, tabs and carriage returns.
    func trimmingWhitespace() -> Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return self[first...last]
    }
}

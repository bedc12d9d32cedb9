import Foundation

/// What to do with a missing value (an empty, `NA` or `NaN` field) in a forecasting file.
public enum MissingValuePolicy: String, Codable, Sendable, CaseIterable {
    /// Linear interpolation between the neighbouring known steps of the same column (the nearest
    /// known value at either end), as pandas `interpolate(limit_direction="both")`.
    case interpolate
    /// Leave out every step that misses a value (the steps around it become neighbours).
    case drop
}

/// How a forecaster reads its CSV file and cuts it, kept in `config.json` so that `eval`,
/// `predict` and `--resume` read files the same way.
public struct ForecastSetup: Codable, Equatable, Sendable {
    /// The columns forecast.
    public var targets: [String]
    /// Further input columns (past covariates), read beside the targets.
    public var features: [String]
    /// The column that orders the steps (numbers or dates); nil keeps the file's order.
    public var time: String?
    /// The column whose values split the file into separate series.
    public var group: String?
    /// Past steps each forecast reads.
    public var window: Int
    /// Steps forecast.
    public var horizon: Int
    /// The seasonal period for the seasonal-naive baseline and MASE (e.g. 24 for hourly data).
    public var season: Int?
    public var mode: ForecastMode
    /// nil refuses missing values.
    public var missing: MissingValuePolicy?
    /// Steps at the end of each series held out for testing.
    public var test: Int
    /// Steps before the test span held out for validation.
    public var validation: Int

    public init(targets: [String], features: [String] = [], time: String? = nil, group: String? = nil, window: Int, horizon: Int,
                season: Int? = nil, mode: ForecastMode, missing: MissingValuePolicy? = nil, test: Int, validation: Int) {
        self.targets = targets
        self.features = features
        self.time = time
        self.group = group
        self.window = window
        self.horizon = horizon
        self.season = season
        self.mode = mode
        self.missing = missing
        self.test = test
        self.validation = validation
    }

    /// The columns the model reads, targets first.
    public var inputColumns: [String] { targets + features.filter { !targets.contains($0) } }
}

/// One series of a forecasting file: its steps in time order.
public struct ForecastSeries: Sendable, Equatable {
    /// The `--group` value, or nil for a file that is one series.
    public var name: String?
    /// Each step's time as the file writes it (or its data row number when there is no time column).
    public var times: [String]
    /// `steps × setup.inputColumns.count`, row-major, targets first.
    public var values: [Float]
    /// Each step's data row in the file (1-based, the header not counted).
    public var rows: [Int]

    public var steps: Int { times.count }

    public init(name: String?, times: [String], values: [Float], rows: [Int]) {
        self.name = name
        self.times = times
        self.values = values
        self.rows = rows
    }

    /// Reads the series of a CSV table: groups in order of first appearance, steps sorted by the
    /// time column when every time is a number or a date (`ForecastTime`), and missing values
    /// handled as `setup.missing` says.
    /// - Throws: `DataError.malformed` naming the rows of a missing value (without a policy), a
    ///   repeated time, a field that is not a number, or a column with no value at all.
    public static func read(_ table: CSVTable, setup: ForecastSetup, path: String) throws(DataError) -> [ForecastSeries] {
        let columns = setup.inputColumns
        var numbers: [[Float]] = []
        for c in columns { numbers.append(try table.numbers(c, path: path)) }
        // Rows by group, in file order.
        var groups: [String] = [], members: [String: [Int]] = [:]
        let groupField = setup.group.flatMap { table.columns[$0] }
        for row in 0..<table.rowCount {
            let g = groupField?[row] ?? ""
            if members[g] == nil { groups.append(g) }
            members[g, default: []].append(row)
        }
        let timeField = setup.time.flatMap { table.columns[$0] }
        var out: [ForecastSeries] = []
        for g in groups {
            var rows = members[g]!
            if let timeField, let setupTime = setup.time {
                let keys = rows.map { ForecastTime.key(timeField[$0]) }
                if keys.allSatisfy({ $0 != nil }) {
                    let order = rows.indices.sorted { (keys[$0]!, $0) < (keys[$1]!, $1) }  // stable
                    rows = order.map { rows[$0] }
                    let sorted = order.map { keys[$0]! }
                    if let k = sorted.indices.dropFirst().first(where: { sorted[$0] == sorted[$0 - 1] }) {
                        throw .malformed(path: path, problem: "data rows \(rows[k - 1] + 1) and \(rows[k] + 1) have the same time "
                                         + "'\(timeField[rows[k]])'" + (setup.group.map { " in \($0) '\(g)'" } ?? ""),
                                         expected: "one row per time" + (setup.group == nil ? " (several series need --group COLUMN)" : ""),
                                         found: "a repeated time", hint: "Remove the duplicate row, or name the column that tells the series apart with --group.")
                    }
                } else if let bad = rows.first(where: { ForecastTime.key(timeField[$0]) == nil }), keys.contains(where: { $0 != nil }) {
                    throw .malformed(path: path, problem: "data row \(bad + 1), column '\(setupTime)' holds '\(timeField[bad].prefix(30))'",
                                     expected: "a number or a date (2024-05-01, 2024/05/01 13:00, May 1 2024) like the other rows",
                                     found: "'\(timeField[bad].prefix(30))'", hint: "Fix the time, or leave out --time to keep the file's order.")
                }
            }
            var values = [Float](), kept = [Int]()
            values.reserveCapacity(rows.count * columns.count)
            for r in rows { for c in columns.indices { values.append(numbers[c][r]) } }
            kept = rows
            let width = columns.count
            let missingRows = kept.indices.filter { i in (0..<width).contains { values[i * width + $0].isNaN } }
            if !missingRows.isEmpty {
                switch setup.missing {
                case nil:
                    let shown = missingRows.prefix(5).map { String(kept[$0] + 1) }.joined(separator: ", ")
                    let first = missingRows[0], column = columns[(0..<width).first { values[first * width + $0].isNaN }!]
                    throw .malformed(path: path, problem: "missing values in data row(s) \(shown)"
                                     + (missingRows.count > 5 ? " and \(missingRows.count - 5) more" : "") + " (first in column '\(column)')",
                                     expected: "a number at every step of the columns read", found: "\(missingRows.count) step(s) with a missing value",
                                     hint: "Give --missing interpolate (straight lines between known steps) or --missing drop (leave those steps out).")
                case .drop:
                    let drop = Set(missingRows)
                    let keep = kept.indices.filter { !drop.contains($0) }
                    values = keep.flatMap { i in values[(i * width)..<((i + 1) * width)] }
                    kept = keep.map { kept[$0] }
                case .interpolate:
                    for c in 0..<width {
                        let known = kept.indices.filter { !values[$0 * width + c].isNaN }
                        guard let firstKnown = known.first, let lastKnown = known.last else {
                            throw .malformed(path: path, problem: "column '\(columns[c])' has no value" + (setup.group.map { " in \($0) '\(g)'" } ?? ""),
                                             expected: "at least one number to interpolate from", found: "only missing values",
                                             hint: "Leave the column out, or the group out of the file.")
                        }
                        for i in 0..<firstKnown { values[i * width + c] = values[firstKnown * width + c] }
                        for i in (lastKnown + 1)..<kept.count { values[i * width + c] = values[lastKnown * width + c] }
                        for (a, b) in zip(known, known.dropFirst()) where b > a + 1 {
                            let va = values[a * width + c], vb = values[b * width + c]
                            for i in (a + 1)..<b { values[i * width + c] = va + (vb - va) * Float(i - a) / Float(b - a) }
                        }
                    }
                }
            }
            out.append(ForecastSeries(name: setup.group == nil ? nil : g,
                                      times: kept.map { timeField?[$0] ?? String($0 + 1) }, values: values, rows: kept.map { $0 + 1 }))
        }
        return out
    }
}

/// Times in forecasting files: numbers, or dates with an optional time of day.
public enum ForecastTime {
    /// A sortable key for a time field: the number itself, or seconds since 1970 for a date
    /// (years 1 to 9999) written `2024-05-01`, `2024/05/01`, either with ` 13:00[:00]` or `T13:00[:00]`, or
    /// `May 1 2024`; nil for anything else.
    public static func key(_ field: String) -> Double? {
        let f = field.trimmingCharacters(in: .whitespaces)
        if let v = Double(f), v.isFinite { return v }
        return parse(f).map { seconds($0) }
    }

    /// A date's parts: year, month, day, hour, minute, second, and how it was written.
    struct DateParts: Equatable {
        var year, month, day, hour, minute, second: Int
        var separator: Character?  // "-" or "/" for numeric dates, nil for "May 1 2024"
        var clock: String?          // " " or "T" before the time of day, nil without one
        var hasSeconds: Bool
    }

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    static func parse(_ f: String) -> DateParts? {
        let words = f.split(separator: " ")
        if words.count == 3, let m = monthNames.firstIndex(of: String(words[0].prefix(3)).lowercased()),
           let d = Int(words[1].trimmingCharacters(in: CharacterSet(charactersIn: ","))), let y = Int(words[2]), (1...31).contains(d),
           (1...9999).contains(y) {
            return DateParts(year: y, month: m + 1, day: d, hour: 0, minute: 0, second: 0, separator: nil, clock: nil, hasSeconds: false)
        }
        let chars = Array(f)
        guard chars.count >= 10, chars[4] == "-" || chars[4] == "/", chars[7] == chars[4],
              let y = Int(String(chars[0..<4])), let m = Int(String(chars[5..<7])), let d = Int(String(chars[8..<10])),
              (1...12).contains(m), (1...31).contains(d), y >= 1 else { return nil }
        var parts = DateParts(year: y, month: m, day: d, hour: 0, minute: 0, second: 0, separator: chars[4], clock: nil, hasSeconds: false)
        if chars.count == 10 { return parts }
        guard chars[10] == " " || chars[10] == "T" else { return nil }
        let clock = String(chars[11...]).split(separator: ":", omittingEmptySubsequences: false)
            .map { $0.count == 2 && $0.allSatisfy(\.isASCII) ? Int($0) : nil }  // two digits each
        guard clock.count == 2 || clock.count == 3, clock.allSatisfy({ $0 != nil }), clock[0]! < 24, clock[1]! < 60,
              clock.count == 2 || clock[2]! < 61 else { return nil }
        parts.hour = clock[0]!
        parts.minute = clock[1]!
        parts.second = clock.count == 3 ? clock[2]! : 0
        parts.clock = String(chars[10])
        parts.hasSeconds = clock.count == 3
        return parts
    }

    /// Days from 1970-01-01 to a civil date (Howard Hinnant's `days_from_civil`).
    static func days(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func seconds(_ p: DateParts) -> Double {
        Double(days(p.year, p.month, p.day) * 86400 + p.hour * 3600 + p.minute * 60 + p.second)
    }

    /// The civil date of a day count (Hinnant's `civil_from_days`).
    static func civil(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The `count` times after `times`, continuing their last interval and written the way they
    /// are: numbers by a constant step, dates by a constant number of seconds or of months (the
    /// same day of every month); nil when the last steps are not evenly spaced that way.
    public static func following(_ times: [String], count: Int) -> [String]? {
        guard times.count >= 2 else { return nil }
        let a = times[times.count - 2].trimmingCharacters(in: .whitespaces), b = times[times.count - 1].trimmingCharacters(in: .whitespaces)
        if let x = Double(a), let y = Double(b), y > x {
            let step = y - x, whole = x.rounded() == x && y.rounded() == y && !b.contains(".")
            return (1...count).map { k in
                let v = y + Double(k) * step
                return whole && abs(v) < 1e15 ? String(Int(v)) : String(v)
            }
        }
        guard let p = parse(a), let q = parse(b), p.separator == q.separator, p.clock == q.clock else { return nil }
        func write(_ d: DateParts) -> String {
            let date: String
            if let s = d.separator {
                date = String(format: "%04d%@%02d%@%02d", d.year, String(s), d.month, String(s), d.day)
            } else {
                date = "\(monthNames[d.month - 1].capitalized) \(d.day) \(d.year)"
            }
            guard let clock = d.clock else { return date }
            return date + clock + String(format: "%02d:%02d", d.hour, d.minute) + (d.hasSeconds ? String(format: ":%02d", d.second) : "")
        }
        let months = (q.year - p.year) * 12 + q.month - p.month
        if p.day == q.day && p.hour == q.hour && p.minute == q.minute && p.second == q.second && months > 0 && p.day <= 28 {
            return (1...count).map { k in
                var d = q
                let total = q.year * 12 + (q.month - 1) + k * months
                d.year = total / 12
                d.month = total % 12 + 1
                return write(d)
            }
        }
        let step = Int(seconds(q) - seconds(p))
        guard step > 0 else { return nil }
        let last = Int(seconds(q))
        return (1...count).map { k in
            let t = last + k * step
            let dayCount = Int((Double(t) / 86400).rounded(.down))
            let (y, m, d) = civil(dayCount)
            let inDay = t - dayCount * 86400
            var parts = q
            (parts.year, parts.month, parts.day) = (y, m, d)
            (parts.hour, parts.minute, parts.second) = (inDay / 3600, inDay % 3600 / 60, inDay % 60)
            return write(parts)
        }
    }
}

/// A forecasting file cut for a model: each series split in time (training, then validation,
/// then test steps at its end) and cut into windows, with the naive baselines and the error
/// measures over the same windows.
public struct ForecastProblem: Sendable {
    public var setup: ForecastSetup
    public var series: [ForecastSeries]
    /// One per series, over `setup.inputColumns` with the targets first.
    public var windows: [ForecastWindows]

    /// A forecast origin: the series and the first step forecast.
    public struct Origin: Equatable, Sendable {
        public var series: Int
        public var start: Int
        public init(series: Int, start: Int) {
            self.series = series
            self.start = start
        }
    }

    public enum Split: Sendable { case train, validation, test }

    /// - Throws: `DataError.malformed` when a series is too short for its splits and one window.
    public init(series: [ForecastSeries], setup: ForecastSetup, path: String) throws(DataError) {
        self.init(unchecked: series, setup: setup)
        let first = setup.window + (setup.mode == .difference ? 1 : 0)
        for (s, w) in zip(series, windows) where w.steps - setup.test - setup.validation < first + setup.horizon {
            let name = s.name.map { " ('\($0)')" } ?? ""
            throw .malformed(path: path, problem: "the series\(name) has \(w.steps) steps",
                             expected: "at least \(first + setup.horizon + setup.test + setup.validation): one training window "
                                 + "(\(first) + horizon \(setup.horizon)) plus \(setup.test) test and \(setup.validation) validation steps",
                             found: "\(w.steps)", hint: "Shorten --window, --test or --validation, or give a longer series.")
        }
    }

    /// A problem whose series are not checked for a training window (forecasting past a file's
    /// end: its last `setup.test` steps are the unknown future).
    public init(unchecked series: [ForecastSeries], setup: ForecastSetup) {
        self.setup = setup
        self.series = series
        windows = series.map { ForecastWindows(values: $0.values, columns: setup.inputColumns.count, targetColumns: Array(0..<setup.targets.count),
                                               window: setup.window, horizon: setup.horizon) }
    }

    /// Where series `i`'s training span ends (exclusive), and where its test span begins.
    public func spans(_ i: Int) -> (trainEnd: Int, testStart: Int) {
        let n = windows[i].steps
        return (n - setup.test - setup.validation, n - setup.test)
    }

    /// Every origin (stride 1) whose forecast lies inside the split's span of its series; the
    /// inputs may reach back before it.
    public func origins(_ split: Split) -> [Origin] {
        windows.indices.flatMap { i -> [Origin] in
            let (trainEnd, testStart) = spans(i), w = windows[i], first = w.firstStart(setup.mode)
            let span: Range<Int>
            switch split {
            case .train: span = 0..<trainEnd
            case .validation: span = trainEnd..<testStart
            case .test: span = testStart..<w.steps
            }
            let low = max(span.lowerBound, first), high = span.upperBound - setup.horizon
            return low <= high ? (low...high).map { Origin(series: i, start: $0) } : []
        }
    }

    /// The model's inputs at every training step (differences in `.difference` mode), for the
    /// feature scaling: training statistics only.
    public func trainingInputs() -> [Float] {
        windows.indices.flatMap { i -> [Float] in
            let w = windows[i], end = spans(i).trainEnd, c = w.columns
            if setup.mode == .difference {
                return (1..<end).flatMap { t in (0..<c).map { w.values[t * c + $0] - w.values[(t - 1) * c + $0] } }
            }
            return Array(w.values[0..<(end * c)])
        }
    }

    /// The windows at `origins`, unscaled, targets as `setup.mode` says.
    public func dataset(_ origins: [Origin]) -> SequenceDataset {
        let parts = windows.indices.map { i in windows[i].dataset(starts: origins.filter { $0.series == i }.map(\.start), mode: setup.mode) }
        // Keep the origins' order: gather each origin's window from its series' part.
        var position = [Int](repeating: 0, count: windows.count)
        var x: [Float] = [], y: [Float] = [], offsets = [0]
        let width = setup.horizon * setup.targets.count
        for o in origins {
            let part = parts[o.series], k = position[o.series]
            position[o.series] += 1
            x += part.values[(part.offsets[k] * part.features)..<(part.offsets[k + 1] * part.features)]
            if case let .targets(t, _) = part.labels { y += t[(k * width)..<((k + 1) * width)] }
            offsets.append(offsets.last! + setup.window)
        }
        return SequenceDataset(features: setup.inputColumns.count, values: x, offsets: offsets, labels: .targets(y, width: width))
    }

    /// The values forecast at `origins` (horizon × targets each, step-major).
    public func actual(_ origins: [Origin]) -> [Float] {
        origins.flatMap { windows[$0.series].actual(starts: [$0.start]) }
    }

    /// Persistence (no season) or seasonal-naive forecasts at `origins`.
    public func naive(_ origins: [Origin], season: Int?) -> [Float] {
        origins.flatMap { windows[$0.series].naiveForecasts(starts: [$0.start], season: season) }
    }

    /// The model's outputs (in scaled target units, `targetScaling` undone here) as forecasts in
    /// the series' units: changes are added back onto each window's last value.
    public func forecasts(outputs: [Float], origins: [Origin], targetScaling: FeatureScaling?) -> [Float] {
        var out = targetScaling?.invert(outputs) ?? outputs
        guard setup.mode != .absolute else { return out }
        let K = setup.targets.count, width = setup.horizon * K
        for (n, o) in origins.enumerated() {
            let last = windows[o.series].lastValues(starts: [o.start])
            for j in 0..<width { out[n * width + j] += last[j % K] }
        }
        return out
    }

    /// The errors of `predicted` at `origins`; MASE averages, over every series and target, the
    /// MAE divided by the in-sample (seasonal) naive MAE of that target's training span, as the
    /// M4 competition scored it.
    public func errors(_ predicted: [Float], origins: [Origin]) -> ForecastErrors {
        let actual = actual(origins)
        var e = ForecastErrors(predicted: predicted, actual: actual, scale: nil)
        let K = setup.targets.count, width = setup.horizon * K
        var ratios: [Double] = []
        for i in windows.indices {
            for k in 0..<K {
                let w = windows[i], end = spans(i).trainEnd
                guard let scale = ForecastErrors.naiveScale((0..<end).map { w.values[$0 * w.columns + k] }, season: setup.season), scale > 0
                else { continue }
                var total = 0.0, n = 0.0
                for (m, o) in origins.enumerated() where o.series == i {
                    for h in 0..<setup.horizon {
                        let j = m * width + h * K + k
                        guard !predicted[j].isNaN && !actual[j].isNaN else { continue }
                        total += abs(Double(predicted[j]) - Double(actual[j]))
                        n += 1
                    }
                }
                if n > 0 { ratios.append(total / n / scale) }
            }
        }
        e.meanAbsoluteScaledError = ratios.isEmpty ? nil : ratios.reduce(0, +) / Double(ratios.count)
        return e
    }
}

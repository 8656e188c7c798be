//! The system functions the SQL subset knows: their names and argument counts (a leaf;
//! what they compute is in `builtin.rs`, `text.rs` and `datetime.rs`).

/// Declares [`Function`] and its table of (name, min args, max args).
macro_rules! functions {
    ($($variant:ident $name:literal $min:literal $max:expr;)*) => {
        /// The scalar system functions.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Function {
            $(
                #[doc = $name]
                $variant,
            )*
        }

        const FUNCTIONS: &[(Function, &str, usize, usize)] = &[
            $((Function::$variant, $name, $min, $max),)*
        ];
    };
}

functions! {
    IsDefined "IS_DEFINED" 1 1;
    IsNull "IS_NULL" 1 1;
    IsNumber "IS_NUMBER" 1 1;
    IsString "IS_STRING" 1 1;
    IsBool "IS_BOOL" 1 1;
    IsArray "IS_ARRAY" 1 1;
    IsObject "IS_OBJECT" 1 1;
    IsPrimitive "IS_PRIMITIVE" 1 1;
    IsFiniteNumber "IS_FINITE_NUMBER" 1 1;
    IsInteger "IS_INTEGER" 1 1;
    StartsWith "STARTSWITH" 2 3;
    EndsWith "ENDSWITH" 2 3;
    Contains "CONTAINS" 2 3;
    StringEquals "STRINGEQUALS" 2 3;
    IndexOf "INDEX_OF" 2 3;
    Replace "REPLACE" 3 3;
    Replicate "REPLICATE" 2 2;
    Reverse "REVERSE" 1 1;
    Left "LEFT" 2 2;
    Right "RIGHT" 2 2;
    Ltrim "LTRIM" 1 1;
    Rtrim "RTRIM" 1 1;
    Trim "TRIM" 1 1;
    ToString "TOSTRING" 1 1;
    StringToArray "STRINGTOARRAY" 1 1;
    StringToBoolean "STRINGTOBOOLEAN" 1 1;
    StringToNull "STRINGTONULL" 1 1;
    StringToNumber "STRINGTONUMBER" 1 1;
    StringToObject "STRINGTOOBJECT" 1 1;
    ArrayContains "ARRAY_CONTAINS" 2 3;
    ArrayLength "ARRAY_LENGTH" 1 1;
    ArraySlice "ARRAY_SLICE" 2 3;
    ArrayConcat "ARRAY_CONCAT" 2 usize::MAX;
    Lower "LOWER" 1 1;
    Upper "UPPER" 1 1;
    Length "LENGTH" 1 1;
    Substring "SUBSTRING" 3 3;
    Concat "CONCAT" 2 usize::MAX;
    Abs "ABS" 1 1;
    Floor "FLOOR" 1 1;
    Ceiling "CEILING" 1 1;
    Round "ROUND" 1 1;
    Trunc "TRUNC" 1 1;
    Sqrt "SQRT" 1 1;
    Square "SQUARE" 1 1;
    Power "POWER" 2 2;
    Log "LOG" 1 2;
    Log10 "LOG10" 1 1;
    Exp "EXP" 1 1;
    Sign "SIGN" 1 1;
    Pi "PI" 0 0;
    Sin "SIN" 1 1;
    Cos "COS" 1 1;
    Tan "TAN" 1 1;
    Asin "ASIN" 1 1;
    Acos "ACOS" 1 1;
    Atan "ATAN" 1 1;
    Atn2 "ATN2" 2 2;
    Degrees "DEGREES" 1 1;
    Radians "RADIANS" 1 1;
    GetCurrentDateTime "GETCURRENTDATETIME" 0 0;
    GetCurrentTimestamp "GETCURRENTTIMESTAMP" 0 0;
    DateTimeAdd "DATETIMEADD" 3 3;
    DateTimeDiff "DATETIMEDIFF" 3 3;
    DateTimePart "DATETIMEPART" 2 2;
    StDistance "ST_DISTANCE" 2 2;
}

impl Function {
    /// The function named `name` (case-insensitive) and its (min, max) argument counts.
    pub(crate) fn from_name(name: &str) -> Option<(Self, usize, usize)> {
        FUNCTIONS
            .iter()
            .find(|(_, n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|&(f, _, min, max)| (f, min, max))
    }

    /// The name it is printed with.
    pub(crate) fn sql(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|(f, ..)| *f == self)
            .map_or("?", |(_, n, ..)| n)
    }

    /// Every function's name, for the README table's check.
    #[cfg(test)]
    pub(crate) fn names() -> impl Iterator<Item = &'static str> {
        FUNCTIONS.iter().map(|(_, n, ..)| *n)
    }
}

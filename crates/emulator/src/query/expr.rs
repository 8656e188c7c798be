//! Expressions of the SQL subset: precedence climbing from OR down to literals, with
//! bounded nesting so no query can exhaust the stack.

use serde_json::Value;

use super::QueryError;
use super::ast::{Aggregate, BinaryOp, Expr, Function, SubqueryKind, UnaryOp, too_deep};
use super::lexer::Token;
use super::parser::{MAX_DEPTH, MAX_NODES, Parser, UNSUPPORTED, reserved};
use super::value::number;

impl Parser<'_> {
    /// One level deeper; an error past [`MAX_DEPTH`] or [`MAX_NODES`].
    pub(super) fn enter(&mut self) -> Result<(), QueryError> {
        self.nesting += 1;
        self.bump()?;
        if self.nesting > MAX_DEPTH {
            return Err(QueryError::new(
                format!("expressions nested deeper than {MAX_DEPTH} are not supported"),
                self.pos(),
            ));
        }
        Ok(())
    }

    fn bump(&mut self) -> Result<(), QueryError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(QueryError::new(
                format!("queries with more than {MAX_NODES} operators are not supported"),
                self.pos(),
            ));
        }
        Ok(())
    }

    pub(super) fn expr(&mut self) -> Result<Expr, QueryError> {
        self.enter()?;
        let expr = self.conditional();
        self.nesting -= 1;
        let expr = expr?;
        if too_deep(&expr, MAX_DEPTH) {
            return Err(QueryError::new(
                format!("expressions nested deeper than {MAX_DEPTH} are not supported"),
                self.pos(),
            ));
        }
        Ok(expr)
    }

    /// `c ? a : b` and `a ?? b`, the loosest operators.
    fn conditional(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.or()?;
        while self.eat("??") {
            self.bump()?;
            left = Expr::Coalesce(Box::new(left), Box::new(self.or()?));
        }
        if self.eat("?") {
            self.bump()?;
            let yes = self.expr()?;
            self.expect(":")?;
            let no = self.expr()?;
            return Ok(Expr::Ternary(Box::new(left), Box::new(yes), Box::new(no)));
        }
        Ok(left)
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut operands = vec![self.and()?];
        while self.eat_keyword("OR") {
            self.bump()?;
            operands.push(self.and()?);
        }
        Ok(Expr::balanced(BinaryOp::Or, operands))
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut operands = vec![self.not()?];
        while self.eat_keyword("AND") {
            self.bump()?;
            operands.push(self.not()?);
        }
        Ok(Expr::balanced(BinaryOp::And, operands))
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.eat_keyword("NOT") {
            self.enter()?;
            let operand = self.not();
            self.nesting -= 1;
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(operand?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.concat()?;
        let negated = self.is_keyword("NOT")
            && matches!(self.tokens.get(self.at + 1).map(|t| &t.token),
                Some(Token::Ident(w)) if w.eq_ignore_ascii_case("IN") || w.eq_ignore_ascii_case("BETWEEN") || w.eq_ignore_ascii_case("LIKE"));
        if negated {
            self.at += 1;
        }
        if self.eat_keyword("IN") {
            self.expect("(")?;
            let mut items = vec![self.expr()?];
            while self.eat(",") {
                items.push(self.expr()?);
            }
            self.expect(")")?;
            return Ok(Expr::In(Box::new(left), items, negated));
        }
        if self.eat_keyword("BETWEEN") {
            let low = self.concat()?;
            self.expect_keyword("AND")?;
            let high = self.concat()?;
            return Ok(Expr::Between(
                Box::new(left),
                Box::new(low),
                Box::new(high),
                negated,
            ));
        }
        if self.eat_keyword("LIKE") {
            let pattern = self.concat()?;
            let escape = if self.eat_keyword("ESCAPE") {
                Some(Box::new(self.concat()?))
            } else {
                None
            };
            return Ok(Expr::Like(
                Box::new(left),
                Box::new(pattern),
                escape,
                negated,
            ));
        }
        if negated {
            return Err(self.unexpected("expected IN, BETWEEN or LIKE"));
        }
        let op = match self.peek() {
            Some(Token::Sym("=")) => BinaryOp::Eq,
            Some(Token::Sym("!=" | "<>")) => BinaryOp::Ne,
            Some(Token::Sym("<")) => BinaryOp::Lt,
            Some(Token::Sym("<=")) => BinaryOp::Le,
            Some(Token::Sym(">")) => BinaryOp::Gt,
            Some(Token::Sym(">=")) => BinaryOp::Ge,
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.concat()?;
        Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
    }

    fn concat(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.additive()?;
        while self.eat("||") {
            self.bump()?;
            left = Expr::Binary(BinaryOp::Concat, Box::new(left), Box::new(self.additive()?));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.eat("+") {
                BinaryOp::Add
            } else if self.eat("-") {
                BinaryOp::Sub
            } else {
                return Ok(left);
            };
            self.bump()?;
            left = Expr::Binary(op, Box::new(left), Box::new(self.multiplicative()?));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat("*") {
                BinaryOp::Mul
            } else if self.eat("/") {
                BinaryOp::Div
            } else if self.eat("%") {
                BinaryOp::Mod
            } else {
                return Ok(left);
            };
            self.bump()?;
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        let op = if self.eat("-") {
            Some(UnaryOp::Neg)
        } else if self.eat("+") {
            Some(UnaryOp::Plus)
        } else {
            None
        };
        if let Some(op) = op {
            self.enter()?;
            let operand = self.unary();
            self.nesting -= 1;
            return Ok(Expr::Unary(op, Box::new(operand?)));
        }
        let mut expr = self.primary()?;
        loop {
            if self.eat(".") {
                self.bump()?;
                let name = match self.peek() {
                    Some(Token::Ident(w)) => w.clone(),
                    _ => return Err(self.unexpected("expected a property name after `.`")),
                };
                self.at += 1;
                expr = Expr::Member(Box::new(expr), name);
            } else if self.eat("[") {
                self.bump()?;
                let index = self.expr()?;
                self.expect("]")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let pos = self.pos();
        let Some(token) = self.peek().cloned() else {
            return Err(self.unexpected("expected an expression"));
        };
        self.at += 1;
        match token {
            Token::Number(n) => Ok(Expr::Literal(number(n))),
            Token::Str(s) => Ok(Expr::Literal(Value::String(s))),
            Token::Param(name) => {
                let value = self.param(&name, pos)?;
                Ok(Expr::Param(name, value))
            }
            Token::Sym("(") if self.is_keyword("SELECT") => self.subquery(SubqueryKind::Scalar),
            Token::Sym("(") => {
                let inner = self.expr()?;
                self.expect(")")?;
                Ok(inner)
            }
            Token::Sym("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expr()?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                    self.expect("]")?;
                }
                Ok(Expr::Array(items))
            }
            Token::Sym("{") => self.object(),
            Token::Ident(word) => self.word(word, pos),
            _ => {
                self.at -= 1;
                Err(self.unexpected("expected an expression"))
            }
        }
    }

    fn object(&mut self) -> Result<Expr, QueryError> {
        let mut fields = Vec::new();
        if self.eat("}") {
            return Ok(Expr::Object(fields));
        }
        loop {
            let name = match self.peek().cloned() {
                Some(Token::Str(s) | Token::Ident(s)) => s,
                _ => return Err(self.unexpected("expected a property name")),
            };
            self.at += 1;
            self.expect(":")?;
            fields.push((name, self.expr()?));
            if !self.eat(",") {
                break;
            }
        }
        self.expect("}")?;
        Ok(Expr::Object(fields))
    }

    /// An identifier in expression position: literal keyword, the alias, or a call.
    fn word(&mut self, word: String, pos: usize) -> Result<Expr, QueryError> {
        match word.to_ascii_uppercase().as_str() {
            "TRUE" => return Ok(Expr::Literal(Value::Bool(true))),
            "FALSE" => return Ok(Expr::Literal(Value::Bool(false))),
            "NULL" => return Ok(Expr::Literal(Value::Null)),
            "UNDEFINED" => return Ok(Expr::Undefined),
            _ => {}
        }
        if let Some((_, name)) = UNSUPPORTED
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&word))
        {
            return Err(QueryError::new(format!("{name} is not supported"), pos));
        }
        let subquery = match word.to_ascii_uppercase().as_str() {
            "EXISTS" => Some(SubqueryKind::Exists),
            "ARRAY" => Some(SubqueryKind::Array),
            _ => None,
        };
        if let Some(kind) = subquery {
            self.expect("(")?;
            return self.subquery(kind);
        }
        if matches!(self.peek(), Some(Token::Sym("("))) {
            return self.call(&word, pos);
        }
        if word.eq_ignore_ascii_case("udf") && matches!(self.peek(), Some(Token::Sym("."))) {
            return Err(QueryError::new(
                "user-defined functions are not supported",
                pos,
            ));
        }
        if let Some(var) = self.resolve(&word) {
            return Ok(var);
        }
        self.at -= 1;
        if reserved(&word) {
            return Err(self.unexpected("expected an expression"));
        }
        Err(QueryError::coded(
            "SC2001",
            format!("Identifier '{word}' could not be resolved."),
            pos,
            pos + word.len(),
        ))
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Expr, QueryError> {
        self.expect("(")?;
        if let Some(aggregate) = Aggregate::from_name(name) {
            if !self.aggregates_allowed {
                return Err(QueryError::new(
                    format!(
                        "aggregate {} is only supported in the select clause",
                        aggregate.sql()
                    ),
                    pos,
                ));
            }
            self.aggregates_allowed = false;
            let arg = self.expr()?;
            self.aggregates_allowed = true;
            self.expect(")")?;
            self.aggregates.push((aggregate, arg));
            return Ok(Expr::Aggregate(aggregate, self.aggregates.len() - 1));
        }
        let Some((function, min, max)) = Function::from_name(name) else {
            return Err(QueryError::coded(
                "SC2005",
                format!(
                    "'{name}' is not a recognized built-in function name (function {} is not supported).",
                    name.to_ascii_uppercase()
                ),
                pos,
                pos + name.len(),
            ));
        };
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.expr()?);
                if !self.eat(",") {
                    break;
                }
            }
            self.expect(")")?;
        }
        if args.len() < min || args.len() > max {
            let expected = match (min, max) {
                (min, usize::MAX) => format!("{min} or more arguments"),
                (min, max) if min == max => format!("{min} argument(s)"),
                (min, max) => format!("{min} to {max} arguments"),
            };
            return Err(QueryError::new(
                format!(
                    "function {} takes {expected}, not {}",
                    name.to_ascii_uppercase(),
                    args.len()
                ),
                pos,
            ));
        }
        Ok(Expr::Call(function, args))
    }
}

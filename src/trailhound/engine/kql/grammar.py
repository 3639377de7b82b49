"""KQL's grammar, for Lark's LALR parser with its contextual lexer.

The contextual lexer is what lets KQL's many keywords double as names: after `|` only tabular operators are
expected, so `project-away` lexes as one keyword, while a column called `type` or `kind` stays a name where a
name is expected. Timespan literals (`2h`, `10m`, `1.5d`) outrank a number followed by a name.
"""

GRAMMAR = r"""
?start: script
script: (_statement | _SEMI)*
_statement: let_stmt | query_stmt
let_stmt: "let" NAME "=" (pipeline | lambda_def)
lambda_def: "(" [param ("," param)*] ")" "{" script "}"
param: NAME ":" NAME
query_stmt: pipeline

pipeline: (expr | union_op) (_PIPE operator)*
subpipeline: _PIPE? operator (_PIPE operator)*

?operator: where_op | extend_op | project_op | project_away_op | project_rename_op | project_reorder_op
         | project_keep_op | summarize_op | distinct_op | sort_op | top_op | take_op | count_op | join_op
         | lookup_op | union_op | mv_expand_op | mv_apply_op | parse_op | evaluate_op | as_op | invoke_op
         | make_series_op | getschema_op | sample_op

where_op: ("where" | "filter") expr
extend_op: "extend" assignments
project_op: "project" assignments
project_away_op: "project-away" name_patterns
project_keep_op: "project-keep" name_patterns
project_reorder_op: "project-reorder" name_patterns
project_rename_op: "project-rename" rename ("," rename)*
rename: colname "=" colname
name_patterns: name_pattern ("," name_pattern)*
name_pattern: colname | WILDNAME
summarize_op: "summarize" hint* [assignments] ["by" assignments]
hint: HINTNAME "=" (NAME | NUMBER | STRING)
distinct_op: "distinct" hint* assignments
sort_op: ("sort" | "order") "by" sort_key ("," sort_key)*
sort_key: expr [ASC | DESC] ["nulls" (FIRST | LAST)]
ASC: "asc"
DESC: "desc"
FIRST: "first"
LAST: "last"
top_op: "top" expr "by" sort_key
take_op: ("take" | "limit") expr
count_op: "count"
join_op: "join" join_kind? hint* join_side ["on" join_conds]
lookup_op: "lookup" join_kind? join_side "on" join_conds
join_kind: "kind" "=" NAME
?join_side: expr_atom
join_conds: join_cond ("," join_cond)*
join_cond: expr [CMP expr]
union_op: "union" union_opt* union_item ("," union_item)*
union_opt: (HINTNAME | "kind" | "withsource") "=" (NAME | "true" | "false")
union_item: expr_atom
mv_expand_op: ("mv-expand" | "mvexpand") mv_opt* mv_item ("," mv_item)* ["limit" expr]
mv_opt: (HINTNAME | "kind" | "with_itemindex") "=" NAME
mv_item: [colname "="] expr ["to" "typeof" "(" NAME ")"]
mv_apply_op: "mv-apply" mv_opt* mv_item ("," mv_item)* ["limit" expr] "on" "(" subpipeline ")"
parse_op: "parse" ["kind" "=" NAME] expr "with" parse_part+
parse_part: STRING -> parse_lit
          | STAR -> parse_skip
          | colname [":" NAME] -> parse_col
evaluate_op: "evaluate" hint* NAME "(" [args] ")"
as_op: "as" hint* NAME
invoke_op: "invoke" NAME "(" [args] ")"
make_series_op: "make-series" assignments "on" expr ["from" expr] ["to" expr] "step" expr ["by" assignments]
getschema_op: "getschema"
sample_op: "sample" expr

assignments: assignment ("," assignment)*
assignment: colname "=" expr -> named
          | expr -> unnamed

colname: NAME | BRACKETNAME | keyword_name
!keyword_name: "kind" | "type" | "to" | "on" | "with" | "count" | "limit" | "from"
            | "step" | "typeof"

?expr: or_expr
?or_expr: and_expr ("or" and_expr)*  -> or_
?and_expr: cmp_expr ("and" cmp_expr)* -> and_
?cmp_expr: add_expr
         | add_expr CMP add_expr -> compare
         | add_expr STROP add_expr -> strop
         | add_expr INOP "(" [args] ")" -> in_list
         | add_expr BETWEEN "(" add_expr ".." add_expr ")" -> between
         | add_expr "matches" "regex" add_expr -> matches_regex
?add_expr: mul_expr ((PLUS | MINUS) mul_expr)* -> arith
?mul_expr: unary ((MULOP | STAR) unary)* -> arith
?unary: postfix
      | MINUS unary -> neg
      | PLUS unary
?postfix: expr_atom
        | postfix "." member_name -> member
        | postfix "[" expr "]" -> index
        | postfix "." "[" expr "]" -> index
member_name: NAME | keyword_name | BRACKETNAME
?expr_atom: literal
          | NAME -> name
          | "$left" "." colname -> left_ref
          | "$right" "." colname -> right_ref
          | NAME "(" [args] ")" -> call
          | "count" "(" [args] ")" -> count_call
          | "typeof" "(" NAME ")" -> typeof_call
          | "(" pipeline ")" -> paren
          | "[" [args] "]" -> array_lit
          | "{" [pair ("," pair)*] "}" -> bag_lit
          | "externaldata" "(" [param ("," param)*] ")" "[" args "]" ["with" "(" extopts ")"] -> externaldata
          | "datatable" "(" [param ("," param)*] ")" "[" [args] "]" -> datatable
          | STAR -> star
extopts: extopt ("," extopt)*
extopt: NAME "=" (STRING | NAME | "true" | "false")
pair: STRING ":" expr
args: pipeline ("," pipeline)*

?literal: STRING+ -> string
        | NUMBER -> number
        | TIMESPAN -> timespan
        | DATETIME -> datetime_lit
        | TIMESPAN_FN -> timespan_fn
        | "true" -> true
        | "false" -> false
        | "null" -> null
        | TYPED_NULL -> null

CMP: "==" | "!=" | "<>" | "<=" | ">=" | "<" | ">" | "=~" | "!~"
STROP.2: /!?(has_cs|hasprefix_cs|hassuffix_cs|hasprefix|hassuffix|has)\b/
       | /!?(contains_cs|contains|startswith_cs|startswith|endswith_cs|endswith)\b/
INOP.3: /!?(in~?|has_any|has_all)(?![A-Za-z0-9_])/
BETWEEN.2: /!?between\b/
PLUS: "+"
MINUS: "-"
MULOP: "/" | "%"
STAR: "*"
_PIPE: "|"
_SEMI: ";"
HINTNAME.2: /hint\.[A-Za-z_]+/ | /isfuzzy/ | /bagexpansion/ | /with_itemindex/

DATETIME.3: /datetime\(\s*[^)]*\)/
TIMESPAN_FN.3: /(timespan|time)\(\s*[^)]*\)/
TYPED_NULL.3: /(int|long|real|double|string|bool|datetime|timespan|dynamic|guid|decimal)\(\s*null\s*\)/
TIMESPAN.2: /\d+(\.\d+)?(days|day|d|hours|hour|hrs|hr|h|minutes|minute|min|m|seconds|second|sec|s)(?![A-Za-z0-9_])/
          | /\d+(\.\d+)?(milliseconds|millisecond|milli|ms|microseconds|microsecond|micro|tick|ticks)(?![A-Za-z0-9_])/
NUMBER: /0x[0-9a-fA-F]+/ | /\d+\.\d+([eE][+-]?\d+)?/ | /\d+([eE][+-]?\d+)?/
STRING: /[hH]?@"[^"]*"/ | /[hH]?@'[^']*'/ | /[hH]?"(\\.|[^"\\\n])*"/ | /[hH]?'(\\.|[^'\\\n])*'/
       | /```[\s\S]*?```/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
WILDNAME.2: /[A-Za-z0-9_]*\*[A-Za-z0-9_*]*/
BRACKETNAME: /\[\s*'[^']*'\s*\]/ | /\[\s*"[^"]*"\s*\]/

COMMENT: /\/\/[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""

// Helpers that turn the mixin's settings into PromQL and prose.
local units = { s: ['second', 1], m: ['minute', 60], h: ['hour', 3600], d: ['day', 86400] };

// '15m' -> { count: 15, unit: 'minute', seconds: 900 }
local parse(d) =
  local unit = std.substr(d, std.length(d) - 1, 1);
  local count = std.parseInt(std.substr(d, 0, std.length(d) - 1));
  assert std.objectHas(units, unit) : 'duration %s: use one unit of s, m, h or d' % d;
  { count: count, unit: units[unit][0], seconds: count * units[unit][1] };

{
  // A number as PromQL writes it: 5, 0.1, 268435456.
  num(x):: if std.floor(x) == x then std.format('%d', x) else std.format('%g', x),

  // A duration in seconds: '15m' -> 900.
  seconds(d):: parse(d).seconds,

  // '15m' -> '15 minutes', '1h' -> 'an hour', '1m' -> 'a minute'.
  words(d)::
    local p = parse(d);
    if p.count == 1 then (if p.unit == 'hour' then 'an hour' else 'a ' + p.unit)
    else '%d %ss' % [p.count, p.unit],

  // '1h' -> "hour's", '30m' -> "30 minutes'" (as in "the last hour's trend").
  possessive(d)::
    local p = parse(d);
    if p.count == 1 then p.unit + "'s" else "%d %ss'" % [p.count, p.unit],

  // The selector with more matchers: sel('job="oom"', 'kind="full"').
  sel(selector, more='')::
    assert selector != '' : 'oomExporterSelector must not be empty (e.g. job="oom")';
    '{' + selector + (if more == '' then '' else ',' + more) + '}',
}

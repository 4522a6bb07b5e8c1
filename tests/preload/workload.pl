# workload.pl - a Perl allocation workout for the preload suite.
# Hashes of arrays, regexes with captures and substitutions, sort with a
# custom comparator, string building, references, local churn.
# Deterministic: srand is fixed and hash keys are sorted before printing
# (PERL_HASH_SEED=0 is set by the suite too).
use strict;
use warnings;

srand(20240601);
my $N = shift // 300000;

# A hash of arrays keyed by generated words.
my %h;
my @syl = qw(ka ri to me su no ha lo ve zi pa qu);
for my $i (0 .. $N - 1) {
    my $w = join '', map { $syl[ int(rand(@syl)) ] } 1 .. 1 + $i % 4;
    push @{ $h{$w} }, $i;
}
my @keys = sort keys %h;
my $tot = 0;
$tot += scalar @{ $h{$_} } for @keys;
printf "words %d total %d first %s last %s\n", scalar @keys, $tot, $keys[0], $keys[-1];

# Sort by a composite comparator (count desc, word asc).
my @by = sort { @{ $h{$b} } <=> @{ $h{$a} } or $a cmp $b } @keys;
print "top: @by[0..4]\n";

# String building and regexes.
my $s = '';
for my $i (0 .. $N - 1) {
    $s .= sprintf("%s=%d;", $keys[ $i % @keys ], $i * 7 % 1000);
}
print "len ", length($s), "\n";
my $n = () = $s =~ /(\w+)=(\d*7\d*);/g;
print "matches $n\n";
my %sum;
while ($s =~ /(\w{2})\w*=(\d+);/g) { $sum{$1} += $2 }
print join(',', map { "$_:$sum{$_}" } sort keys %sum), "\n";
(my $t = $s) =~ s/(\d+)/<$1>/g;
print "subst len ", length($t), "\n";
$t =~ tr/a-z/A-Z/;
my @parts = split /;/, $t;
print "parts ", scalar @parts, " mid $parts[@parts / 2]\n";

# References: an array of hashes of arrays, built and dropped in waves.
my $acc = 0;
for my $wave (1 .. 20) {
    my @recs = map { { id => $_, name => "n$_" x ($_ % 3 + 1), v => [ ($_) x ($_ % 6) ] } }
        ($wave * 1000) .. ($wave * 1000 + 6000);
    $acc += $_->{id} * scalar @{ $_->{v} } for @recs;
    @recs = grep { $_->{name} =~ /7/ } @recs;
    $acc += scalar @recs;
}
print "acc $acc\n";

# Numeric sort of a big list, join and unpack.
my @nums = map { ($_ * 2654435761) % 1000003 } 1 .. $N;
my @sorted = sort { $a <=> $b } @nums;
print "nums $sorted[0] $sorted[$N / 2] $sorted[-1]\n";
my $packed = pack('N*', @sorted);
my @un = unpack('N*', $packed);
print "packed ", length($packed), " ok ", ($un[12345] == $sorted[12345] ? 1 : 0), "\n";
undef %h; undef $s; undef $t; undef @parts;
print "done\n";

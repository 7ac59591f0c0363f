#!/usr/bin/perl
# Write a small MaxMind DB for tests with Debian's libmaxmind-db-writer-perl (RECIPES.md §3).
#   mkmmdb.pl OUT.mmdb STYLE NETWORK=CC,ASN,ORG ...
# STYLE: country (GeoLite2-Country: country.iso_code), city (GeoLite2-City: country + city),
# asn (GeoLite2-ASN: autonomous_system_number/_organization), combined (country + ASN),
# flat (ip-location-db: country_code). Empty CC/ASN/ORG fields are left out of the entry.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ($out, $style, @nets) = @ARGV;
die "usage: mkmmdb.pl OUT STYLE NET=CC,ASN,ORG...\n" unless $out && $style && @nets;
my %types = (country => 'map', city => 'map', iso_code => 'utf8_string', names => 'map', en => 'utf8_string',
    geoname_id => 'uint32', country_code => 'utf8_string', autonomous_system_number => 'uint32',
    autonomous_system_organization => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(ip_version => 6, record_size => 24,
    database_type => "mxscan-test-$style", languages => ['en'], description => { en => 'mxscan test' },
    map_key_type_callback => sub { $types{ $_[0] } },
    remove_reserved_networks => 0,    # else 127/8 and ::1 are silently dropped
    alias_ipv6_to_ipv4 => 1);
for my $spec (@nets) {
    my ($net, $rest) = split /=/, $spec, 2;
    my ($cc, $asn, $org) = split /,/, ($rest // ''), 3;
    utf8::decode($org) if defined $org;    # arguments are UTF-8 bytes; the writer encodes characters
    my %e;
    if ($cc && ($style eq 'country' || $style eq 'combined')) {
        $e{country} = { iso_code => $cc, geoname_id => 1, names => { en => "Land $cc" } };
    }
    if ($cc && $style eq 'city') {
        $e{country} = { iso_code => $cc, geoname_id => 1, names => { en => "Land $cc" } };
        $e{city} = { geoname_id => 2, names => { en => "Town in $cc" } };
    }
    $e{country_code} = $cc if $cc && $style eq 'flat';
    if ($asn && ($style eq 'asn' || $style eq 'combined')) {
        $e{autonomous_system_number} = $asn + 0;
        $e{autonomous_system_organization} = $org if $org;
    }
    $tree->insert_network($net, \%e) if %e;
}
open my $fh, '>:raw', $out or die "cannot write $out: $!\n";
$tree->write_tree($fh);
close $fh or die "cannot write $out: $!\n";

#include "vm/domain_xml.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "harness/child_process.h"
#include "harness/fd.h"

namespace isobench::vm {
namespace {

constexpr const char* kValidator = "/usr/bin/virt-xml-validate";

GuestConfig BasicGuest() {
  GuestConfig g;
  g.name = "isobench-20250101T000000-42-web1";
  g.kernel = "/var/lib/isobench/images/abc/vmlinuz";
  g.initrd = "/var/lib/isobench/images/abc/initramfs.cpio";
  g.cmdline = DefaultKernelCmdline();
  g.console_socket = "/run/isobench-vm/20250101T000000-42/web1.con";
  g.channel_socket = "/run/isobench-vm/20250101T000000-42/web1.ch";
  g.run_id = "20250101T000000-42";
  g.instance_name = "web1";
  return g;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string MustBuild(const GuestConfig& g) {
  auto xml = BuildDomainXml(g);
  EXPECT_TRUE(xml.ok()) << xml.error().message();
  return xml.ok() ? *xml : std::string();
}

TEST(DomainXmlTest, BasicTcgGuest) {
  std::string xml = MustBuild(BasicGuest());
  EXPECT_TRUE(Contains(xml,
                       "<domain type='qemu' "
                       "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"));
  EXPECT_TRUE(Contains(xml, "<name>isobench-20250101T000000-42-web1</name>"));
  EXPECT_TRUE(Contains(xml, "<memory unit='KiB'>262144</memory>"));
  EXPECT_TRUE(Contains(xml, "<vcpu placement='static'>1</vcpu>"));
  EXPECT_TRUE(Contains(xml, "<type arch='x86_64' machine='pc'>hvm</type>"));
  EXPECT_TRUE(Contains(xml, "<kernel>/var/lib/isobench/images/abc/vmlinuz</kernel>"));
  EXPECT_TRUE(Contains(xml, "<initrd>/var/lib/isobench/images/abc/initramfs.cpio</initrd>"));
  EXPECT_TRUE(
      Contains(xml, "<cmdline>console=ttyS0 earlyprintk=ttyS0 isobench.channel=/dev/ttyS1 "));
  EXPECT_TRUE(Contains(xml, "<features>\n    <acpi/>\n  </features>"));
  EXPECT_TRUE(Contains(xml, "<on_poweroff>destroy</on_poweroff>"));
  EXPECT_TRUE(Contains(xml, "<on_reboot>destroy</on_reboot>"));
  EXPECT_TRUE(Contains(xml, "<on_crash>destroy</on_crash>"));
  EXPECT_TRUE(Contains(xml,
                       "<source mode='bind' path='/run/isobench-vm/20250101T000000-42/web1.con'/>\n"
                       "      <target type='isa-serial' port='0'/>"));
  EXPECT_TRUE(Contains(xml,
                       "<source mode='bind' path='/run/isobench-vm/20250101T000000-42/web1.ch'/>\n"
                       "      <target type='isa-serial' port='1'/>"));
  EXPECT_TRUE(Contains(xml,
                       "<isobench:instance xmlns:isobench='https://isobench.dev/xmlns/instance/1' "
                       "run='20250101T000000-42' name='web1'/>"));
  EXPECT_TRUE(Contains(xml, "<controller type='usb' model='none'/>"));
  EXPECT_TRUE(Contains(xml, "<memballoon model='none'/>"));
  EXPECT_FALSE(Contains(xml, "<disk"));
  EXPECT_FALSE(Contains(xml, "<interface"));
  EXPECT_FALSE(Contains(xml, "<cputune>"));
  EXPECT_FALSE(Contains(xml, "<memoryBacking>"));
  EXPECT_FALSE(Contains(xml, "host-passthrough")) << "TCG emulates qemu's default CPU model";
  EXPECT_FALSE(Contains(xml, "<emulator>"));
}

TEST(DomainXmlTest, KvmUsesHostCpu) {
  GuestConfig g = BasicGuest();
  g.accelerator = Accelerator::kKvm;
  std::string xml = MustBuild(g);
  EXPECT_TRUE(Contains(xml, "<domain type='kvm' xmlns:qemu="));
  EXPECT_TRUE(Contains(xml, "<cpu mode='host-passthrough' check='none'/>"));
}

TEST(DomainXmlTest, CpuReadbackByFeatureWordsDeletesTheCapability) {
  std::string words = MustBuild(BasicGuest());
  EXPECT_TRUE(Contains(words,
                       "  </devices>\n"
                       "  <qemu:capabilities>\n"
                       "    <qemu:del capability='cpu-unavailable-features'/>\n"
                       "  </qemu:capabilities>\n"
                       "</domain>\n"))
      << words;
  GuestConfig g = BasicGuest();
  g.cpu_readback = CpuReadback::kPerFeature;
  std::string features = MustBuild(g);
  EXPECT_TRUE(Contains(features, "<domain type='qemu'>"));
  EXPECT_FALSE(Contains(features, "qemu:")) << "libvirt's own read-back: nothing deleted";
  EXPECT_EQ(*ParseCpuReadback("words"), CpuReadback::kFeatureWords);
  EXPECT_EQ(*ParseCpuReadback("features"), CpuReadback::kPerFeature);
  EXPECT_EQ(CpuReadbackName(CpuReadback::kPerFeature), "features");
  EXPECT_FALSE(ParseCpuReadback("Words").ok());
}

TEST(DomainXmlTest, MachineTypes) {
  for (auto [machine, text] : {std::pair{MachineType::kPc, "pc"},
                               {MachineType::kQ35, "q35"},
                               {MachineType::kMicrovm, "microvm"}}) {
    GuestConfig g = BasicGuest();
    g.machine = machine;
    EXPECT_TRUE(Contains(MustBuild(g), std::string("machine='") + text + "'>hvm</type>"));
    auto parsed = ParseMachineType(text);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, machine);
  }
  EXPECT_FALSE(ParseMachineType("isapc").ok());
}

TEST(DomainXmlTest, PinningQuotaAndHugepages) {
  GuestConfig g = BasicGuest();
  g.vcpus = 2;
  g.vcpu_pins = {1, 0};
  g.cpu_quota = 1.5;
  g.hugepages = true;
  std::string xml = MustBuild(g);
  EXPECT_TRUE(Contains(xml, "<vcpu placement='static'>2</vcpu>"));
  EXPECT_TRUE(Contains(xml, "<vcpupin vcpu='0' cpuset='1'/>"));
  EXPECT_TRUE(Contains(xml, "<vcpupin vcpu='1' cpuset='0'/>"));
  EXPECT_TRUE(Contains(xml, "<global_period>100000</global_period>"));
  EXPECT_TRUE(Contains(xml, "<global_quota>150000</global_quota>"));
  EXPECT_TRUE(Contains(xml, "<memoryBacking>\n    <hugepages/>\n  </memoryBacking>"));
}

TEST(DomainXmlTest, IoWeightIsBlkiotune) {
  GuestConfig g = BasicGuest();
  EXPECT_FALSE(Contains(MustBuild(g), "blkiotune"));
  g.io_weight = 300;
  EXPECT_TRUE(Contains(MustBuild(g), "<blkiotune>\n    <weight>300</weight>\n  </blkiotune>"));
  g.io_weight = 1001;
  EXPECT_EQ(BuildDomainXml(g).error().errno_value(), EINVAL);
}

TEST(DomainXmlTest, TinyQuotaIsRaisedToTheKernelMinimum) {
  GuestConfig g = BasicGuest();
  g.cpu_quota = 0.001;
  EXPECT_TRUE(Contains(MustBuild(g), "<global_quota>1000</global_quota>"));
}

TEST(DomainXmlTest, RawVirtioDisk) {
  GuestConfig g = BasicGuest();
  g.disk = DiskConfig{"/var/lib/isobench/vm/r/web1.img", "none", "native", false};
  std::string xml = MustBuild(g);
  EXPECT_TRUE(Contains(xml, "<driver name='qemu' type='raw' cache='none' io='native'/>"));
  EXPECT_TRUE(Contains(xml, "<source file='/var/lib/isobench/vm/r/web1.img'/>"));
  EXPECT_TRUE(Contains(xml, "<target dev='vda' bus='virtio'/>"));
  EXPECT_FALSE(Contains(xml, "<readonly/>"));
  g.disk->read_only = true;
  g.disk->cache = "writeback";
  g.disk->io = "threads";
  xml = MustBuild(g);
  EXPECT_TRUE(Contains(xml, "cache='writeback' io='threads'"));
  EXPECT_TRUE(Contains(xml, "<readonly/>"));
}

TEST(DomainXmlTest, DiskOptionsQemuWouldRejectAreErrors) {
  GuestConfig g = BasicGuest();
  g.disk = DiskConfig{"/d.img", "writeback", "native", false};
  auto xml = BuildDomainXml(g);
  ASSERT_FALSE(xml.ok());
  EXPECT_TRUE(Contains(xml.error().message(), "io=native needs cache=none"));
  g.disk = DiskConfig{"/d.img", "fast", "threads", false};
  EXPECT_FALSE(BuildDomainXml(g).ok());
  g.disk = DiskConfig{"/d.img", "none", "aio", false};
  EXPECT_FALSE(BuildDomainXml(g).ok());
  g.disk = DiskConfig{"relative.img", "none", "native", false};
  EXPECT_FALSE(BuildDomainXml(g).ok());
}

TEST(DomainXmlTest, NetworkInterfaces) {
  GuestConfig g = BasicGuest();
  g.network = NetworkConfig{"network", "default", "52:54:00:12:34:56"};
  std::string xml = MustBuild(g);
  EXPECT_TRUE(Contains(xml, "<interface type='network'>"));
  EXPECT_TRUE(Contains(xml, "<mac address='52:54:00:12:34:56'/>"));
  EXPECT_TRUE(Contains(xml, "<source network='default'/>"));
  EXPECT_TRUE(Contains(xml, "<model type='virtio'/>"));
  g.network = NetworkConfig{"bridge", "br0", ""};
  xml = MustBuild(g);
  EXPECT_TRUE(Contains(xml, "<source bridge='br0'/>"));
  EXPECT_FALSE(Contains(xml, "<mac"));
  EXPECT_FALSE(Contains(xml, "<target dev=")) << "libvirt names the tap";
  g.network->target_dev = "isbt0a0b";
  xml = MustBuild(g);
  EXPECT_TRUE(Contains(xml, "<target dev='isbt0a0b'/>"));
  g.network = NetworkConfig{"user", "", ""};
  xml = MustBuild(g);
  EXPECT_TRUE(Contains(xml, "<interface type='user'>"));
  EXPECT_FALSE(Contains(xml, "<source network"));
  g.network = NetworkConfig{"vhostuser", "x", ""};
  EXPECT_FALSE(BuildDomainXml(g).ok());
  g.network = NetworkConfig{"bridge", "", ""};
  EXPECT_FALSE(BuildDomainXml(g).ok());
}

TEST(DomainXmlTest, EscapesTextAndAttributes) {
  GuestConfig g = BasicGuest();
  g.cmdline = "a=<b> c='d' e=\"f\" g&h";
  g.run_id = "r'&<";
  std::string xml = MustBuild(g);
  EXPECT_TRUE(
      Contains(xml, "<cmdline>a=&lt;b&gt; c=&apos;d&apos; e=&quot;f&quot; g&amp;h</cmdline>"));
  EXPECT_TRUE(Contains(xml, "run='r&apos;&amp;&lt;'"));
  EXPECT_EQ(XmlEscape("plain"), "plain");
}

TEST(DomainXmlTest, InvalidConfigsAreRejectedWithTheReason) {
  struct Case {
    const char* what;
    void (*mutate)(GuestConfig&);
    const char* message;
  };
  const Case cases[] = {
      {"empty name", [](GuestConfig& g) { g.name.clear(); }, "name is empty"},
      {"bad name", [](GuestConfig& g) { g.name = "a b"; }, "outside [A-Za-z0-9_.-]"},
      {"zero vcpus", [](GuestConfig& g) { g.vcpus = 0; }, "vcpus must be 1..255"},
      {"tiny memory", [](GuestConfig& g) { g.memory_bytes = 1 << 20; }, "at least 16 MiB"},
      {"odd memory", [](GuestConfig& g) { g.memory_bytes = (64 << 20) + 1; }, "multiple of 1 KiB"},
      {"pins",
       [](GuestConfig& g) {
         g.vcpu_pins = {0, 1};
       },
       "2 host CPUs for 1 vCPUs"},
      {"negative quota", [](GuestConfig& g) { g.cpu_quota = -1; }, "non-negative"},
      {"no kernel", [](GuestConfig& g) { g.kernel.clear(); }, "kernel path is empty"},
      {"relative kernel", [](GuestConfig& g) { g.kernel = "vmlinuz"; }, "not absolute"},
      {"relative initrd", [](GuestConfig& g) { g.initrd = "initrd"; }, "not absolute"},
      {"long socket", [](GuestConfig& g) { g.console_socket = "/" + std::string(120, 'x'); },
       "unix sockets allow 107"},
      {"same sockets", [](GuestConfig& g) { g.channel_socket = g.console_socket; },
       "different sockets"},
  };
  for (const Case& c : cases) {
    GuestConfig g = BasicGuest();
    c.mutate(g);
    auto xml = BuildDomainXml(g);
    ASSERT_FALSE(xml.ok()) << c.what;
    EXPECT_TRUE(Contains(xml.error().message(), c.message))
        << c.what << ": " << xml.error().message();
    EXPECT_EQ(xml.error().errno_value() == 0, false) << c.what;
  }
}

TEST(DomainXmlTest, NoInitrdIsAllowed) {
  GuestConfig g = BasicGuest();
  g.initrd.clear();
  EXPECT_FALSE(Contains(MustBuild(g), "<initrd>"));
}

TEST(DomainXmlTest, MetadataRoundTrip) {
  auto parsed = ParseMetadataElement(BuildMetadataElement("20250101T000000-7", "db"));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->run_id, "20250101T000000-7");
  EXPECT_EQ(parsed->instance_name, "db");
  // What virDomainGetMetadata hands back: no prefix, libvirt's quoting.
  parsed = ParseMetadataElement("<instance run=\"r&amp;1\" name=\"x\"/>");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->run_id, "r&1");
  EXPECT_EQ(parsed->instance_name, "x");
  EXPECT_FALSE(ParseMetadataElement("<instance name='x'/>")) << "no run id: not one of ours";
  EXPECT_FALSE(ParseMetadataElement("<instance xrun='x'/>"));
}

TEST(DomainXmlTest, DomainNameAndCmdline) {
  EXPECT_EQ(DomainName("20250101T000000-42", "web1"), "isobench-20250101T000000-42-web1");
  std::string cmdline = DefaultKernelCmdline("isobench.debug=1");
  EXPECT_EQ(cmdline.rfind("console=ttyS0 earlyprintk=ttyS0 isobench.channel=/dev/ttyS1", 0), 0u);
  EXPECT_TRUE(Contains(cmdline, "loglevel=6")) << "the banner is KERN_NOTICE";
  EXPECT_TRUE(Contains(cmdline, "panic=-1"));
  EXPECT_FALSE(Contains(cmdline, "quiet")) << "quiet hides the Linux version banner";
  EXPECT_EQ(cmdline.substr(cmdline.size() - 16), "isobench.debug=1");
}

// Every shape of document the builder produces must satisfy libvirt's own schema.
class DomainXmlSchemaTest : public ::testing::TestWithParam<std::pair<const char*, GuestConfig>> {};

TEST_P(DomainXmlSchemaTest, ValidatesAgainstLibvirtSchema) {
  if (::access(kValidator, X_OK) != 0)
    GTEST_SKIP() << kValidator << " is absent (install libvirt-clients)";
  std::string xml = MustBuild(GetParam().second);
  char path[] = "/tmp/isobench-domain-xml-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  harness::Fd owner(fd);
  ASSERT_TRUE(harness::WriteAll(fd, xml).ok());
  auto out = harness::RunCapture({kValidator, path, "domain"});
  ::unlink(path);
  EXPECT_TRUE(out.ok()) << GetParam().first << ": " << out.error().message() << "\n" << xml;
}

std::vector<std::pair<const char*, GuestConfig>> SchemaCases() {
  std::vector<std::pair<const char*, GuestConfig>> cases;
  cases.push_back({"tcg_pc", BasicGuest()});
  GuestConfig g = BasicGuest();
  g.cpu_readback = CpuReadback::kPerFeature;
  cases.push_back({"tcg_pc_per_feature_readback", g});
  g = BasicGuest();
  g.accelerator = Accelerator::kKvm;
  g.machine = MachineType::kQ35;
  cases.push_back({"kvm_q35", g});
  g = BasicGuest();
  g.machine = MachineType::kMicrovm;
  cases.push_back({"microvm", g});
  g = BasicGuest();
  g.vcpus = 2;
  g.vcpu_pins = {0, 1};
  g.cpu_quota = 0.5;
  g.hugepages = true;
  g.memory_bytes = 1ull << 30;
  cases.push_back({"pinned_quota_hugepages", g});
  g = BasicGuest();
  g.disk = DiskConfig{"/var/lib/isobench/vm/r/web1.img", "none", "native", false};
  g.network = NetworkConfig{"network", "default", "52:54:00:00:00:01"};
  cases.push_back({"disk_network", g});
  g = BasicGuest();
  g.disk = DiskConfig{"/d.img", "unsafe", "io_uring", true};
  g.network = NetworkConfig{"user", "", ""};
  g.emulator = "/usr/bin/qemu-system-x86_64";
  cases.push_back({"readonly_disk_user_net_emulator", g});
  g = BasicGuest();
  g.network = NetworkConfig{"bridge", "br0", ""};
  g.initrd.clear();
  g.cmdline = "console=ttyS0 x=<&'\">";
  cases.push_back({"bridge_no_initrd_escaped", g});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllShapes, DomainXmlSchemaTest, ::testing::ValuesIn(SchemaCases()),
                         [](const auto& info) { return std::string(info.param.first); });

}  // namespace
}  // namespace isobench::vm

import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CHECKPOINT_TAG } from '../layout';

export interface StorageProps {
  /** Keep the buckets (and their objects) when the stack is destroyed. */
  readonly retainData: boolean;
  /**
   * Days after which `runs/<runId>/checkpoint/` objects expire (they are only needed to resume).
   * @default 14
   */
  readonly checkpointExpirationDays?: number;
  /**
   * Days after which non-current object versions expire (the 3 newest are kept).
   * @default 30
   */
  readonly noncurrentVersionExpirationDays?: number;
}

/**
 * The three buckets of the stack:
 * - DatasetBucket: `datasets/<name>/...` idx files staged for training.
 * - ArtifactBucket: `runs/<runId>/...` (training outputs) and `params/...` (published param folders);
 *   versioned, EventBridge notifications on (the conversion job triggers on `runs/<runId>/model.npz`).
 * - LogBucket: S3 server access logs of the two above and the VPC flow logs.
 * All: public access blocked, TLS-only bucket policy, SSE-S3 encryption (access-log targets must use
 * SSE-S3, and SSE-S3 keeps `aws s3 sync` working without KMS permissions for users).
 */
export class Storage extends Construct {
  readonly datasetBucket: s3.Bucket;
  readonly artifactBucket: s3.Bucket;
  readonly logBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    // Access-log delivery through a bucket policy (not the legacy LogDeliveryWrite ACL), so every bucket
    // can keep ACLs disabled (BucketOwnerEnforced). Set here so the construct works in any app.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const removal = props.retainData
      ? { removalPolicy: RemovalPolicy.RETAIN }
      : { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true };
    const common: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      ...removal,
    };

    this.logBucket = new s3.Bucket(this, 'LogBucket', {
      ...common,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(365) }],
    });

    this.datasetBucket = new s3.Bucket(this, 'DatasetBucket', {
      ...common,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'access/dataset/',
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });

    this.artifactBucket = new s3.Bucket(this, 'ArtifactBucket', {
      ...common,
      versioned: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'access/artifact/',
      lifecycleRules: [
        {
          // Checkpoints of finished runs are only useful to resume; model.npz and params stay.
          id: 'expire-checkpoints',
          // Lifecycle filters are plain prefixes (no wildcard), so this matches every run's objects;
          // the tag filter narrows it to objects the instance tags as checkpoints.
          tagFilters: { [CHECKPOINT_TAG.key]: CHECKPOINT_TAG.value },
          expiration: Duration.days(props.checkpointExpirationDays ?? 14),
        },
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpirationDays ?? 30),
          noncurrentVersionsToRetain: 3,
          expiredObjectDeleteMarker: true,
        },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
    // EventBridge delivery set on the L1 bucket itself: the L2 `eventBridgeEnabled` adds a custom-resource
    // Lambda (BucketNotificationsHandler) that this stack does not otherwise need. Consumers subscribe with
    // an EventBridge rule (source aws.s3, detail-type "Object Created"), not with addEventNotification().
    const cfnArtifactBucket = this.artifactBucket.node.defaultChild as s3.CfnBucket;
    cfnArtifactBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
  }

  /** Stack-unique id of a bucket as cdk-nag prints it in findings, e.g. `<StorageArtifactBucket1234ABCD.Arn>`. */
  static arnToken(bucket: s3.Bucket): string {
    return `<${Stack.of(bucket).getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
  }
}

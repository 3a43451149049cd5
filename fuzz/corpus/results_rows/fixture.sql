INSERT INTO experiments VALUES('exp','exp.json','{}','dense','2024-01-01','2024-01-01');
INSERT INTO experiment_tasks VALUES('exp','arith','acc',1),('exp','ppl','perplexity',1);
INSERT INTO runs(run_id,experiment,arm,seed,family,config_json,train_json,params,active_params,flops_per_token,memory_bytes,default_depth,status,tokens_trained)
 VALUES('exp/dense/seed0','exp','dense',0,'dense_transformer','{}','{}',1.2e6,1.2e6,3.4e9,5e8,1,'finished',400),
       ('exp/dreamer/seed0','exp','dreamer',0,'dreamer','{}','{}',1e6,5e5,2e9,1.5e9,4,'finished',400);
INSERT INTO checkpoints VALUES('exp/dense/seed0','ck100',1,100,'/ck','t'),('exp/dense/seed0','ck400',4,400,'/ck','t'),
 ('exp/dreamer/seed0','ck100',1,100,'/ck','t'),('exp/dreamer/seed0','ck400',4,400,'/ck','t');
INSERT INTO eval_results VALUES('exp/dense/seed0','ck100','arith',1,'acc',0.1,100,NULL,'{}','t'),
 ('exp/dense/seed0','ck400','arith',1,'acc',0.5,100,0.05,'{}','t'),
 ('exp/dreamer/seed0','ck100','arith',4,'acc',0.2,100,NULL,'{}','t'),
 ('exp/dreamer/seed0','ck400','arith',4,'acc',0.7,100,0.05,'{}','t'),
 ('exp/dreamer/seed0','ck400','arith',1,'acc',0.3,100,NULL,'{}','t'),
 ('exp/dense/seed0','ck400','ppl',1,'perplexity',12.5,100,NULL,'{}','t'),
 ('exp/dreamer/seed0','ck400','ppl',4,'perplexity',9.5,100,NULL,'{}','t');
INSERT INTO expert_metrics VALUES('exp/dreamer/seed0','ck400','arith',4,'ffn',0,'universal_score',0.8),
 ('exp/dreamer/seed0','ck400','arith',4,'ffn',1,'universal_score',0.6);
INSERT INTO expert_counts VALUES('exp/dreamer/seed0','ck400','arith',4,'ffn',1,0,7),('exp/dreamer/seed0','ck400','arith',4,'ffn',1,1,3);
INSERT INTO train_metrics(run_id,step,tokens,loss) VALUES('exp/dense/seed0',1,100,3.2),('exp/dense/seed0',2,200,2.9);
